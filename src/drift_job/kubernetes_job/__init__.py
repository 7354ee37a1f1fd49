"""``drift-check k8s``: run the check as a Kubernetes Job from outside the cluster and return
its verdict as the exit code.

Only :mod:`.client` and :mod:`.command` talk to the API (the official ``kubernetes`` client,
installed with the ``kubernetes`` extra); :mod:`.verdict` and :mod:`.manifests` work on the
plain JSON objects the API returns, so they are imported and tested without it. Nothing in
``drift-check check`` imports this package.
"""

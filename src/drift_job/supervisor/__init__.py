"""The supervisor half: settings, server, temporary databases, signals, deadline, cleanup and
reports. It never imports the project: a worker process does (see :mod:`drift_job.worker`).
"""

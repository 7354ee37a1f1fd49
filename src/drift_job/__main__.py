"""Allow ``python -m drift_job``."""

from drift_job.cli import main

raise SystemExit(main())

"""The probe appliance: the ``camaudit probe run`` daemon, its outbox and offline bundles."""

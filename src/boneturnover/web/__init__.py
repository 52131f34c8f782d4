"""The web clinic: ``boneturnover serve`` (the ``web`` extra).

Patients, results, treatments, laboratory assay settings and interpretation snapshots in
one database (SQLite in a data folder by default, PostgreSQL on request), the clinical
engine's findings on a worklist and a patient page, uploads of FHIR R4 bundles and cohort
CSVs read by the clinical package's own loaders, a manual entry form and a token-checked
JSON API for laboratory systems. Modules:

* :mod:`.models`: the tables (SQLAlchemy 2); :mod:`.db`: engines, the data folder and the
  migrations (:mod:`.migrations`, Alembic, applied at start);
* :mod:`.security`: password hashes (argon2), login cookies, API tokens, CSRF, lock-out,
  roles; :mod:`.store`: every read and write of patient data (imports all-or-nothing,
  corrections that keep the original, the audit log, snapshots, the worklist);
* :mod:`.api` (JSON, ``/api/v1``), :mod:`.pages` (HTML), :mod:`.app` (the application),
  :mod:`.i18n` (English and Simplified Chinese), :mod:`.commands` (``serve``).

Decision support: bone turnover markers cannot diagnose osteoporosis; the patient page
says so, as the reports do. Nothing is imported here, so ``import boneturnover`` and
``boneturnover interpret`` never load the web stack.
"""

"""The only place with SQL: engine and session (db), tables, one repository module per resource."""

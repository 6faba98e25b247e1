-- PostgreSQL's 0007 drops foreign keys of `activities` and `run_instances` that cost a checked
-- look-up per row in `:execute`. SQLite checks them in process, cheaply, and dropping one would
-- mean rebuilding the tables: nothing changes here (the two folders keep the same file names).
SELECT 1;

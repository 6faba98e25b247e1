-- `:execute` writes an activity and a run instance per covered machine (5,000 by default) in
-- one statement, and PostgreSQL checks each foreign key of each row on its own (a trigger and a
-- locking look-up per row and key): six per machine, most of that statement's time (of its
-- 180 ms of PostgreSQL CPU at 5,000 machines, 130 ms). These six are dropped because what they
-- would catch cannot happen: every value is taken, in the writing statement, from a row that
-- exists and is checked itself, and the rows they point at are never deleted, or deleted in the
-- same transaction after (or in the same statement as) the rows pointing at them.
--
-- - activities.account_id, activities.creator_id: a run's activities carry the account and the
--   user of its profile and parent (a report's, of its profile); accounts and users are never
--   deleted.
-- - activities.computer_id, run_instances.computer_id: taken from the computers rows read in
--   the same statement; computers are never deleted (a removed one keeps its row, with
--   `deleted_time`, and its history).
-- - activities.parent_id: a child's parent is its run's activity (runs.activity_id, checked);
--   retention deletes a run's children and its parent in one statement.
-- - run_instances.run_id: written with its run, in the same statement; retention deletes a run's
--   instances before the run, in the run's transaction, and removing a computer deletes only
--   instances.
--
-- The orphan test (tests/api/retention.rs) checks every one of these after computer removal and
-- retention. Every other reference stays checked (runs, audits, reports and the rest). SQLite
-- checks its foreign keys in process at a fraction of this cost and keeps them (0007 there is a
-- no-op).
ALTER TABLE activities
    DROP CONSTRAINT activities_account_id_fkey,
    DROP CONSTRAINT activities_creator_id_fkey,
    DROP CONSTRAINT activities_computer_id_fkey,
    DROP CONSTRAINT activities_parent_id_fkey;
ALTER TABLE run_instances
    DROP CONSTRAINT run_instances_run_id_fkey,
    DROP CONSTRAINT run_instances_computer_id_fkey;

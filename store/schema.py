"""Schema migrations, applied in order once each; `schema_migrations` records which ran.

A migration's SQL is DuckDB's, which PostgreSQL runs too once translated (store/postgres_sql.py); where an engine
needs a step of its own, the SQL is given per engine, and an engine not named has nothing to do at that version.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str | dict[str, str]]] = [
    (
        1,
        "entities, observations, events, dead letters, feed status",
        """
        CREATE TABLE entities (
            id VARCHAR PRIMARY KEY, feed_id VARCHAR NOT NULL, domain VARCHAR NOT NULL, kind VARCHAR NOT NULL,
            name VARCHAR NOT NULL, lon DOUBLE, lat DOUBLE,
            district_id VARCHAR, town_id VARCHAR, grid_id VARCHAR,
            attributes JSON, first_seen TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL
        );
        -- Append-only; no index: duplicates are kept out by an anti-join over the batch's time range, which
        -- zone maps on ts make cheap because rows arrive roughly in time order.
        CREATE TABLE observations (
            entity_id VARCHAR NOT NULL, metric VARCHAR NOT NULL, value DOUBLE, unit VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL, quality VARCHAR NOT NULL, feed_id VARCHAR NOT NULL, msg_id VARCHAR NOT NULL,
            received_at TIMESTAMPTZ NOT NULL
        );
        -- The newest value of each entity and metric, kept by the writer so the map never scans history.
        CREATE TABLE latest (
            entity_id VARCHAR NOT NULL, metric VARCHAR NOT NULL, value DOUBLE, unit VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL, quality VARCHAR NOT NULL, PRIMARY KEY (entity_id, metric)
        );
        CREATE TABLE events (
            id VARCHAR PRIMARY KEY, feed_id VARCHAR NOT NULL, msg_id VARCHAR NOT NULL, domain VARCHAR NOT NULL,
            type VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL, lon DOUBLE, lat DOUBLE,
            district_id VARCHAR, town_id VARCHAR, grid_id VARCHAR, severity VARCHAR, title VARCHAR NOT NULL,
            description VARCHAR NOT NULL, entity_id VARCHAR, source_ref VARCHAR, raw VARCHAR,
            received_at TIMESTAMPTZ NOT NULL
        );
        CREATE SEQUENCE dead_letter_ids;
        CREATE TABLE dead_letters (
            id BIGINT PRIMARY KEY DEFAULT nextval('dead_letter_ids'), ts TIMESTAMPTZ NOT NULL,
            feed_id VARCHAR NOT NULL, source VARCHAR NOT NULL, reason VARCHAR NOT NULL, raw BLOB NOT NULL
        );
        CREATE TABLE feed_status (
            feed_id VARCHAR PRIMARY KEY, state VARCHAR NOT NULL, reason VARCHAR NOT NULL,
            changed_at TIMESTAMPTZ NOT NULL, last_message_at TIMESTAMPTZ,
            messages BIGINT NOT NULL DEFAULT 0, errors BIGINT NOT NULL DEFAULT 0
        );
        """,
    ),
    (
        2,
        "alerts, their timeline, and the rule engine's pending state",
        """
        CREATE SEQUENCE alert_ids;
        CREATE TABLE alerts (
            id BIGINT PRIMARY KEY DEFAULT nextval('alert_ids'),
            rule_id VARCHAR NOT NULL, subject_id VARCHAR NOT NULL, domain VARCHAR NOT NULL,
            severity VARCHAR NOT NULL, initial_severity VARCHAR NOT NULL,
            state VARCHAR NOT NULL, condition VARCHAR NOT NULL,      -- lifecycle state; active | cleared
            title_zh VARCHAR NOT NULL, title_en VARCHAR NOT NULL,
            message_zh VARCHAR NOT NULL, message_en VARCHAR NOT NULL,
            unit_type VARCHAR NOT NULL, unit_id VARCHAR, sop VARCHAR,
            district_id VARCHAR, lon DOUBLE, lat DOUBLE,
            last_value DOUBLE, fire_count INTEGER NOT NULL DEFAULT 1,
            first_fired_at TIMESTAMPTZ NOT NULL, last_fired_at TIMESTAMPTZ NOT NULL, cleared_at TIMESTAMPTZ,
            created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
            snoozed_until TIMESTAMPTZ, overdue_stages VARCHAR[] NOT NULL DEFAULT []
        );
        CREATE INDEX alerts_open ON alerts (rule_id, subject_id);
        CREATE SEQUENCE alert_log_ids;
        CREATE TABLE alert_log (
            id BIGINT PRIMARY KEY DEFAULT nextval('alert_log_ids'), alert_id BIGINT NOT NULL,
            ts TIMESTAMPTZ NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL,
            from_state VARCHAR, to_state VARCHAR NOT NULL, note VARCHAR NOT NULL DEFAULT '', details JSON
        );
        -- Where each (rule, subject) stands between alerts: pending since when, clearing since when.
        CREATE TABLE rule_state (
            rule_id VARCHAR NOT NULL, subject_id VARCHAR NOT NULL, phase VARCHAR NOT NULL,
            since TIMESTAMPTZ NOT NULL, clear_since TIMESTAMPTZ, last_value DOUBLE,
            PRIMARY KEY (rule_id, subject_id)
        );
        """,
    ),
    (
        3,
        "dead letters remember their replay",
        """
        ALTER TABLE dead_letters ADD COLUMN replayed_at TIMESTAMPTZ;
        ALTER TABLE dead_letters ADD COLUMN replay_note VARCHAR;   -- the outcome of the latest replay
        """,
    ),
    (
        4,
        "feed health history",
        """
        CREATE SEQUENCE feed_log_ids;
        CREATE TABLE feed_log (
            id BIGINT PRIMARY KEY DEFAULT nextval('feed_log_ids'), feed_id VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL, state VARCHAR NOT NULL, reason VARCHAR NOT NULL
        );
        """,
    ),
    (
        5,
        "hourly and daily summaries of observations past their retention",
        """
        CREATE TABLE observations_hourly (
            entity_id VARCHAR NOT NULL, metric VARCHAR NOT NULL, hour TIMESTAMPTZ NOT NULL, unit VARCHAR NOT NULL,
            n BIGINT NOT NULL, min DOUBLE, max DOUBLE, sum DOUBLE, PRIMARY KEY (entity_id, metric, hour)
        );
        -- Days are the city's days (its time zone), as people count them.
        CREATE TABLE observations_daily (
            entity_id VARCHAR NOT NULL, metric VARCHAR NOT NULL, day DATE NOT NULL, unit VARCHAR NOT NULL,
            n BIGINT NOT NULL, min DOUBLE, max DOUBLE, sum DOUBLE, PRIMARY KEY (entity_id, metric, day)
        );
        """,
    ),
    (
        6,
        "summaries kept current: how far they have rolled up",
        """
        -- Observations received before `until` are in the summaries; those after are not yet.
        CREATE TABLE summary_progress (name VARCHAR PRIMARY KEY, until TIMESTAMPTZ NOT NULL);
        """,
    ),
    (
        7,
        "incidents: what people handle, with alerts as the evidence inside them",
        """
        -- Where an alert lies below its district (the incident of a town or a grid), the incident it is part of, and
        -- why it was recorded without being raised: 'inhibit:<id>' (a parent condition explains it) or
        -- 'silence:<id>' (someone silenced its scope).
        ALTER TABLE alerts ADD COLUMN town_id VARCHAR;
        ALTER TABLE alerts ADD COLUMN grid_id VARCHAR;
        ALTER TABLE alerts ADD COLUMN incident_id BIGINT;
        ALTER TABLE alerts ADD COLUMN suppressed_by VARCHAR;
        CREATE INDEX alerts_incident ON alerts (incident_id);
        CREATE SEQUENCE incident_ids;
        CREATE TABLE incidents (
            id BIGINT PRIMARY KEY DEFAULT nextval('incident_ids'),
            group_id VARCHAR NOT NULL,              -- the rule file's group (a rule's own when it names none)
            region_level VARCHAR NOT NULL, region_id VARCHAR,   -- what it covers; no region: unplaced members
            domain VARCHAR NOT NULL, severity VARCHAR NOT NULL, state VARCHAR NOT NULL,
            title_zh VARCHAR NOT NULL, title_en VARCHAR NOT NULL,
            district_id VARCHAR, lon DOUBLE, lat DOUBLE,
            area VARCHAR,                           -- GeoJSON geometry of its members' places
            members INTEGER NOT NULL, active_members INTEGER NOT NULL, inhibited INTEGER NOT NULL DEFAULT 0,
            opened_at TIMESTAMPTZ NOT NULL, last_member_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
            all_cleared_at TIMESTAMPTZ, closed_at TIMESTAMPTZ
        );
        CREATE SEQUENCE incident_log_ids;
        CREATE TABLE incident_log (
            id BIGINT PRIMARY KEY DEFAULT nextval('incident_log_ids'), incident_id BIGINT NOT NULL,
            ts TIMESTAMPTZ NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL,
            from_state VARCHAR, to_state VARCHAR NOT NULL, note VARCHAR NOT NULL DEFAULT '', details JSON
        );
        """,
    ),
    (
        8,
        "silences: scopes someone put aside until a time, with their reason",
        """
        CREATE SEQUENCE silence_ids;
        CREATE TABLE silences (
            id BIGINT PRIMARY KEY DEFAULT nextval('silence_ids'),
            created_by VARCHAR NOT NULL, reason VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL,
            ends_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ, ended_by VARCHAR,
            -- The scope: every given part must match an alert (none given is refused before it is stored).
            rule_id VARCHAR, domain VARCHAR, region_id VARCHAR, entity_ids VARCHAR[] NOT NULL DEFAULT []
        );
        """,
    ),
    (
        9,
        "what people's actions write on an incident",
        """
        ALTER TABLE incidents ADD COLUMN unit_id VARCHAR;
        ALTER TABLE incidents ADD COLUMN snoozed_until TIMESTAMPTZ;
        """,
    ),
    (
        10,
        "official warnings: their area, expiry, chain and every field; the alerts they raise",
        """
        -- area: GeoJSON geometry (WGS84) of what the warning covers; refs: the msg_ids it updates or cancels;
        -- details: every field of its source format (CAP's infos, parameters, geocodes …).
        ALTER TABLE events ADD COLUMN area VARCHAR;
        ALTER TABLE events ADD COLUMN expires_at TIMESTAMPTZ;
        ALTER TABLE events ADD COLUMN refs VARCHAR[];
        ALTER TABLE events ADD COLUMN details JSON;
        -- An alert with an area of its own (a warning's) is drawn as that area, in its incident's too.
        ALTER TABLE alerts ADD COLUMN area VARCHAR;
        ALTER TABLE alerts ADD COLUMN expires_at TIMESTAMPTZ;
        """,
    ),
    (
        11,
        "time limits on incidents: the stages whose limit passed",
        """
        ALTER TABLE incidents ADD COLUMN overdue_stages VARCHAR[] NOT NULL DEFAULT [];
        """,
    ),
    (
        12,
        "values a feed sent that were refused (flagged in error, fill values), counted, never stored",
        """
        ALTER TABLE feed_status ADD COLUMN discarded BIGINT NOT NULL DEFAULT 0;
        """,
    ),
    (
        13,
        "readings and places a feed's plausibility tests marked suspect, with the reason, counted per feed",
        """
        ALTER TABLE observations ADD COLUMN quality_reason VARCHAR;
        ALTER TABLE feed_status ADD COLUMN suspect BIGINT NOT NULL DEFAULT 0;
        """,
    ),
    (
        14,
        "incidents owned by a centre and a department of the city's organisation (its routing)",
        """
        ALTER TABLE incidents ADD COLUMN centre_id VARCHAR;
        ALTER TABLE incidents ADD COLUMN department_id VARCHAR;
        """,
    ),
    (
        15,
        "tasks down the command chain, with their receipts, reports and photos; incidents placed at every level",
        """
        -- The town and the grid an incident's members all lie in (none where they spread over more than one).
        ALTER TABLE incidents ADD COLUMN town_id VARCHAR;
        ALTER TABLE incidents ADD COLUMN grid_id VARCHAR;
        -- One task is one hand-over down the chain: a centre gives an incident (or its part of one) to a unit
        -- below it, or to one of its field workers. A task given on by its receiver is the child of the one it got.
        CREATE SEQUENCE task_ids;
        CREATE TABLE tasks (
            id BIGINT PRIMARY KEY DEFAULT nextval('task_ids'), incident_id BIGINT NOT NULL, parent_id BIGINT,
            from_unit VARCHAR NOT NULL, to_unit VARCHAR NOT NULL, to_person VARCHAR,
            state VARCHAR NOT NULL, instruction VARCHAR NOT NULL DEFAULT '',
            sent_by VARCHAR NOT NULL, sent_at TIMESTAMPTZ NOT NULL,
            signed_by VARCHAR, signed_at TIMESTAMPTZ, reported_at TIMESTAMPTZ, verified_at TIMESTAMPTZ,
            -- The running stage's clock (receipt, then report) and who above the receiver holds it once it ran out.
            stage_due TIMESTAMPTZ, escalate_at TIMESTAMPTZ, escalated_to VARCHAR,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE INDEX tasks_incident ON tasks (incident_id);
        -- Photos sent from the field: the bytes live in files outside the store, named by their digest.
        CREATE TABLE attachments (
            id VARCHAR NOT NULL, task_id BIGINT NOT NULL, incident_id BIGINT NOT NULL, media_type VARCHAR NOT NULL,
            bytes BIGINT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, name VARCHAR NOT NULL,
            uploaded_by VARCHAR NOT NULL, uploaded_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (id, task_id)
        );
        -- The request id of each step done, so that a phone sending a step again on a flaky network does it once.
        CREATE TABLE task_requests (request VARCHAR PRIMARY KEY, task_id BIGINT NOT NULL, ts TIMESTAMPTZ NOT NULL);
        """,
    ),
    (
        16,
        "notifications: what happened that people off the screen are told of, and each delivery of it",
        """
        -- The outbox: written in the transaction of what happened (an incident opened, a stage overdue, a task
        -- raised up the chain), so nothing is told that did not happen and nothing that happened is lost. `key`
        -- is one per change (an incident's opening, its stage): what a retry or a second node writes again is
        -- the same row.
        CREATE SEQUENCE notification_ids;
        CREATE TABLE notifications (
            id BIGINT PRIMARY KEY DEFAULT nextval('notification_ids'), key VARCHAR NOT NULL UNIQUE,
            event VARCHAR NOT NULL, incident_id BIGINT, task_id BIGINT, directive_id BIGINT, severity VARCHAR,
            domain VARCHAR,
            district_id VARCHAR, town_id VARCHAR, grid_id VARCHAR, units VARCHAR[] NOT NULL DEFAULT [],
            title_zh VARCHAR NOT NULL, title_en VARCHAR NOT NULL, details JSON, created_at TIMESTAMPTZ NOT NULL,
            matched_at TIMESTAMPTZ   -- when its deliveries were made from the subscriptions
        );
        -- One notification to one channel (and one recipient of it, for e-mail): tried until sent or given up.
        CREATE SEQUENCE delivery_ids;
        CREATE TABLE deliveries (
            id BIGINT PRIMARY KEY DEFAULT nextval('delivery_ids'), notification_id BIGINT NOT NULL,
            channel VARCHAR NOT NULL, recipient VARCHAR NOT NULL DEFAULT '', state VARCHAR NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_at TIMESTAMPTZ NOT NULL, last_error VARCHAR,
            sent_at TIMESTAMPTZ, created_at TIMESTAMPTZ NOT NULL, UNIQUE (notification_id, channel, recipient)
        );
        """,
    ),
    (
        17,
        "directives down the chain (政令一键直达), each receiver's receipt, and what each forwarded",
        """
        -- answer: what each receiver owes: read (having opened it), sign (签收), reply (a written answer), figure
        -- (a number, in `figure_unit`). A directive forwarded down is a directive of its own whose parent_id is the
        -- one it relays, with the forwarder's additions; the tree of receipts is read through parent_id.
        CREATE SEQUENCE directive_ids;
        CREATE TABLE directives (
            id BIGINT PRIMARY KEY DEFAULT nextval('directive_ids'), parent_id BIGINT,
            from_unit VARCHAR NOT NULL, sent_by VARCHAR NOT NULL, sent_at TIMESTAMPTZ NOT NULL,
            title VARCHAR NOT NULL, body VARCHAR NOT NULL, answer VARCHAR NOT NULL, figure_unit VARCHAR,
            deadline TIMESTAMPTZ, attachments VARCHAR[] NOT NULL DEFAULT []
        );
        CREATE SEQUENCE directive_receipt_ids;
        CREATE TABLE directive_receipts (
            id BIGINT PRIMARY KEY DEFAULT nextval('directive_receipt_ids'), directive_id BIGINT NOT NULL,
            to_unit VARCHAR NOT NULL, to_person VARCHAR,
            read_at TIMESTAMPTZ, read_by VARCHAR, signed_at TIMESTAMPTZ, signed_by VARCHAR,
            replied_at TIMESTAMPTZ, replied_by VARCHAR, reply VARCHAR, figure DOUBLE,
            reply_attachments VARCHAR[] NOT NULL DEFAULT [], chased INTEGER NOT NULL DEFAULT 0,
            chased_at TIMESTAMPTZ, forwarded_as BIGINT
        );
        CREATE INDEX directive_receipts_directive ON directive_receipts (directive_id);
        -- The files sent with a directive or a reply (PDF, images), kept beside the store as the field's photos are.
        CREATE TABLE directive_files (
            id VARCHAR NOT NULL, directive_id BIGINT NOT NULL, receipt_id BIGINT, media_type VARCHAR NOT NULL,
            bytes BIGINT NOT NULL, name VARCHAR NOT NULL, uploaded_by VARCHAR NOT NULL, uploaded_at TIMESTAMPTZ NOT NULL
        );
        -- Every step of a directive: sent, read, signed, replied, chased, forwarded, and each notification of it.
        CREATE SEQUENCE directive_log_ids;
        CREATE TABLE directive_log (
            id BIGINT PRIMARY KEY DEFAULT nextval('directive_log_ids'), directive_id BIGINT NOT NULL,
            receipt_id BIGINT, ts TIMESTAMPTZ NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL,
            note VARCHAR NOT NULL DEFAULT '', details JSON
        );
        """,
    ),
    (
        18,
        "supervision: each incident's figures, shift handovers, and the reports made on schedule",
        """
        -- One row per incident with what its figures are made of, kept current from its timeline
        -- (supervision/facts.py), so that a year's figures are an aggregate over these rows, not a walk through
        -- every timeline. Durations are seconds from opening, on the clock (_s) and in the city's working time
        -- (_ws, NULL without a calendar); late_* is whether that stage's time limit ran out.
        CREATE TABLE incident_figures (
            id BIGINT NOT NULL, opened_at TIMESTAMPTZ NOT NULL, closed_at TIMESTAMPTZ, state VARCHAR NOT NULL,
            domain VARCHAR NOT NULL, severity VARCHAR NOT NULL, group_id VARCHAR NOT NULL,
            district_id VARCHAR, town_id VARCHAR, grid_id VARCHAR, centre_id VARCHAR, department_id VARCHAR,
            members INTEGER NOT NULL,
            acknowledged_at TIMESTAMPTZ, dispatched_at TIMESTAMPTZ, resolved_at TIMESTAMPTZ,
            ack_s DOUBLE, dispatch_s DOUBLE, resolve_s DOUBLE, ack_ws DOUBLE, dispatch_ws DOUBLE, resolve_ws DOUBLE,
            late_ack BOOLEAN NOT NULL, late_dispatch BOOLEAN NOT NULL, late_resolve BOOLEAN NOT NULL,
            returned INTEGER NOT NULL, reopened INTEGER NOT NULL, escalations INTEGER NOT NULL
        );
        -- How far the figures have read: the highest incident_log id taken, and when (a refresh takes the entries
        -- numbered above it, and the incidents changed since a margin before it: an id is given when an entry is
        -- written, not when it commits, and some changes write no entry); the calendar the working time was
        -- counted by (another calendar computes every row again).
        CREATE TABLE figure_progress (
            name VARCHAR PRIMARY KEY, last_log_id BIGINT NOT NULL, ts TIMESTAMPTZ NOT NULL, calendar VARCHAR NOT NULL
        );
        -- A shift handed over (交接班) at a desk (a centre of the organisation, or 'city'): the outgoing officer's
        -- report of the shift as it stood, their notes, and the incoming officer's signature.
        CREATE SEQUENCE handover_ids;
        CREATE TABLE handovers (
            id BIGINT PRIMARY KEY DEFAULT nextval('handover_ids'), desk VARCHAR NOT NULL,
            shift_start TIMESTAMPTZ NOT NULL, shift_end TIMESTAMPTZ NOT NULL, handed_by VARCHAR NOT NULL,
            notes VARCHAR NOT NULL DEFAULT '', report JSON NOT NULL,
            taken_by VARCHAR, taken_at TIMESTAMPTZ, taken_note VARCHAR
        );
        -- A report made on schedule (daily, weekly, monthly) for a centre, its HTML and PDF kept beside the store.
        -- `key` is one per kind, centre and period: a report made again (a restart, a second node) is the same row.
        CREATE SEQUENCE report_ids;
        CREATE TABLE reports (
            id BIGINT PRIMARY KEY DEFAULT nextval('report_ids'), key VARCHAR NOT NULL UNIQUE, kind VARCHAR NOT NULL,
            centre_id VARCHAR, region_id VARCHAR, period_start TIMESTAMPTZ NOT NULL, period_end TIMESTAMPTZ NOT NULL,
            language VARCHAR NOT NULL, html_file VARCHAR NOT NULL, pdf_file VARCHAR NOT NULL,
            pages INTEGER NOT NULL, bytes BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL
        );
        """,
    ),
    (
        19,
        "each feed's hours, rolled up for its data-quality scorecard",
        """
        -- One row per feed and hour once the hour is over (supervision/scorecards.py): seconds it was ok, messages,
        -- readings and those marked suspect, dead letters, its known devices and those that reported, and its
        -- latency (source time to stored) as counts per bucket of scorecards.LATENCY_BOUNDS_S, so that hours add up
        -- to any period's percentiles after the observations themselves are summarised away.
        CREATE TABLE feed_hours (
            feed_id VARCHAR NOT NULL, hour TIMESTAMPTZ NOT NULL, ok_s DOUBLE NOT NULL, messages BIGINT NOT NULL,
            readings BIGINT NOT NULL, suspect BIGINT NOT NULL, dead_letters BIGINT NOT NULL,
            devices_known INTEGER NOT NULL, devices_reporting INTEGER NOT NULL, latency BIGINT[] NOT NULL,
            PRIMARY KEY (feed_id, hour)
        );
        """,
    ),
    (
        20,
        "when each latest value was written",
        """
        -- So that a reader keeping a copy of `latest` (the wall's snapshot) reads only the rows written since.
        ALTER TABLE latest ADD COLUMN written_at TIMESTAMPTZ;
        UPDATE latest SET written_at = ts;
        """,
    ),
    (
        21,
        "PostgreSQL: observations in a partition per day, each reading once",
        {
            "postgresql": """
            -- A partition per day (UTC), made by the writer before it writes a reading of a new day
            -- (observation_partition), so that retention drops whole days. What is written another way (a replay,
            -- a repair by hand) into a day without its partition goes to observations_other, and moves into the
            -- day's partition when that is made. The unique index keeps a reading that two nodes receive (a QoS 1
            -- message sent again) once; the writer inserts with ON CONFLICT DO NOTHING.
            ALTER TABLE observations RENAME TO observations_before_partitions;
            CREATE TABLE observations (LIKE observations_before_partitions INCLUDING DEFAULTS) PARTITION BY RANGE (ts);
            CREATE UNIQUE INDEX observations_once ON observations (feed_id, msg_id, entity_id, metric, ts);
            CREATE INDEX observations_history ON observations (entity_id, metric, ts);
            CREATE TABLE observations_other PARTITION OF observations DEFAULT;
            CREATE FUNCTION observation_partition(day date) RETURNS void LANGUAGE plpgsql AS $$
            DECLARE
                name text := 'observations_' || to_char(day, 'YYYYMMDD');
                low timestamptz := day::timestamp AT TIME ZONE 'UTC';
                high timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
            BEGIN
                IF to_regclass(name) IS NOT NULL THEN
                    RETURN;
                END IF;
                EXECUTE format('CREATE TABLE %I (LIKE observations INCLUDING DEFAULTS)', name);
                EXECUTE format('WITH moved AS (DELETE FROM observations_other WHERE ts >= %L AND ts < %L RETURNING *) '
                               'INSERT INTO %I SELECT * FROM moved', low, high, name);
                EXECUTE format('ALTER TABLE observations ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                               name, low, high);
            EXCEPTION WHEN duplicate_table OR unique_violation THEN
                NULL;  -- another node made it meanwhile
            END $$;
            SELECT observation_partition(d) FROM (SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date AS d
                                                  FROM observations_before_partitions) AS days;
            INSERT INTO observations SELECT * FROM observations_before_partitions;
            DROP TABLE observations_before_partitions;
            """,
        },
    ),
    (
        22,
        "the nodes serving the city, their heartbeats, and where the leader's rule engine has read to",
        """
        -- Each CityOps process (one with DuckDB, several on PostgreSQL) every second or so (cityops/leadership.py):
        -- whether it leads, where its web app listens, and its writer's figures (store.writer.Writer.stats).
        CREATE TABLE nodes (
            id VARCHAR PRIMARY KEY, started_at TIMESTAMPTZ NOT NULL, seen_at TIMESTAMPTZ NOT NULL,
            leader BOOLEAN NOT NULL, web VARCHAR, writer JSON
        );
        """,
    ),
    (
        23,
        "PostgreSQL: the journal of what each node stored, which the leader's rule engine follows",
        {
            "postgresql": """
            -- One row per batch a node's writer committed, in that batch's transaction (store/journal.py): the
            -- entities it described, those it brought readings of, and its events. `xact` is the writing
            -- transaction's id: the leader reads only entries older than every transaction still running, so an entry
            -- that commits late is never skipped.
            CREATE TABLE ingest_journal (
                xact xid8 NOT NULL DEFAULT pg_current_xact_id(), id BIGSERIAL, node VARCHAR NOT NULL,
                described VARCHAR[] NOT NULL, touched VARCHAR[] NOT NULL, events VARCHAR[] NOT NULL,
                PRIMARY KEY (xact, id)
            );
            -- How far a reader has read (the leader's rule engine: 'rules'), moved in the transaction of what it
            -- wrote for those entries, and only from where it was read: a second leader's move fails.
            CREATE TABLE journal_position (name VARCHAR PRIMARY KEY, xact xid8 NOT NULL, id BIGINT NOT NULL);
            INSERT INTO journal_position VALUES ('rules', '0', 0);
            """,
        },
    ),
    (
        24,
        "PostgreSQL: observations found by when they were received",
        {
            "postgresql": """
            -- The roll-up into the summaries and the feeds' hourly figures read what was received in a stretch of
            -- time. DuckDB finds it by its zone maps (rows are appended in that order); PostgreSQL's day partitions
            -- are by the reading's own time, so without this index each of those reads scanned every partition.
            CREATE INDEX observations_received ON observations (received_at);
            """,
        },
    ),
    (
        25,
        "PostgreSQL: the files kept beside the store, shared by the nodes",
        {
            "postgresql": """
            -- Photos from the field, files sent with directives, and reports (store/kept_files.py): written once
            -- under a name that never changes, read by whichever node a browser reaches. Each node also keeps a
            -- copy in its own folder, from which it serves them.
            CREATE TABLE kept_files (
                name VARCHAR PRIMARY KEY, data BYTEA NOT NULL, kept_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            """,
        },
    ),
]

-- The Graph sandbox's state (SQLite). Bodies are JSON: the node's fields as the API shows them.
CREATE TABLE graph_apps (
    client_id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, secret TEXT NOT NULL,
    redirect_uris TEXT NOT NULL, api_version TEXT NOT NULL, require_app_secret INTEGER NOT NULL
);
CREATE TABLE graph_accounts (
    id TEXT PRIMARY KEY, username TEXT UNIQUE NOT NULL, password TEXT NOT NULL,
    account_type TEXT NOT NULL, body TEXT NOT NULL
);
CREATE TABLE graph_media (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, parent TEXT, position INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL, body TEXT NOT NULL
);
CREATE INDEX graph_media_owner ON graph_media (owner, created);
CREATE TABLE graph_comments (
    id TEXT PRIMARY KEY, media TEXT NOT NULL, parent TEXT, created REAL NOT NULL,
    username TEXT NOT NULL, from_id TEXT NOT NULL, text TEXT NOT NULL,
    hidden INTEGER NOT NULL DEFAULT 0, like_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX graph_comments_media ON graph_comments (media, parent, created);
CREATE TABLE graph_containers (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL, body TEXT NOT NULL,
    media_id TEXT, published REAL
);
CREATE TABLE graph_tokens (
    token TEXT PRIMARY KEY, kind TEXT NOT NULL, user_id TEXT NOT NULL, client_id TEXT NOT NULL,
    scopes TEXT NOT NULL, issued REAL NOT NULL, expires REAL NOT NULL, revoked TEXT
);
CREATE TABLE graph_codes (
    code TEXT PRIMARY KEY, client_id TEXT NOT NULL, user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL, scopes TEXT NOT NULL, expires REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE graph_sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE graph_account_subs (
    client_id TEXT NOT NULL, user_id TEXT NOT NULL, fields TEXT NOT NULL,
    PRIMARY KEY (client_id, user_id)
);
CREATE TABLE graph_app_subs (
    client_id TEXT PRIMARY KEY, callback_url TEXT NOT NULL, verify_token TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE TABLE graph_seq (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE graph_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

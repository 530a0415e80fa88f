-- The sandbox's content tables (users, media, comments, likes, relationships, tags, locations,
-- subscriptions). Counts (likes, comments, media, follows, followed_by, tag media_count) are
-- never stored: they are computed from these rows, so every write shows up in every count.

CREATE TABLE IF NOT EXISTS users (
    id              TEXT PRIMARY KEY,          -- decimal string, as the API sends it
    username        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    full_name       TEXT NOT NULL DEFAULT '',
    profile_picture TEXT NOT NULL,
    bio             TEXT NOT NULL DEFAULT '',
    website         TEXT NOT NULL DEFAULT '',
    is_business     INTEGER NOT NULL DEFAULT 0,
    is_private      INTEGER NOT NULL DEFAULT 0,
    password        TEXT NOT NULL              -- demo login only; documented in docs/sandbox-data.md
);

CREATE TABLE IF NOT EXISTS locations (
    id                 INTEGER PRIMARY KEY,    -- an integer inside media, a string on /locations
    name               TEXT NOT NULL,
    latitude           REAL NOT NULL,
    longitude          REAL NOT NULL,
    street_address     TEXT,
    foursquare_v2_id   TEXT,
    foursquare_id      TEXT,
    facebook_places_id TEXT
);
CREATE INDEX IF NOT EXISTS locations_lat ON locations (latitude, longitude);

CREATE TABLE IF NOT EXISTS media (
    pk             INTEGER PRIMARY KEY,        -- the id is "<pk>_<owner>"
    shortcode      TEXT NOT NULL UNIQUE,
    owner          TEXT NOT NULL REFERENCES users (id),
    type           TEXT NOT NULL CHECK (type IN ('image', 'video', 'carousel')),
    created_time   INTEGER NOT NULL,
    caption_id     INTEGER,                    -- NULL: no caption
    caption_text   TEXT,
    filter         TEXT NOT NULL DEFAULT 'Normal',
    location_id    INTEGER REFERENCES locations (id),
    tags           TEXT NOT NULL DEFAULT '[]', -- JSON list, in caption order
    images         TEXT,                       -- JSON; NULL: derived from the shortcode
    videos         TEXT,                       -- JSON; NULL: derived (videos only)
    carousel       TEXT,                       -- JSON list of {type, images?, videos?}
    users_in_photo TEXT NOT NULL DEFAULT '[]'  -- JSON list of {user_id, x, y}
);
CREATE INDEX IF NOT EXISTS media_owner_time ON media (owner, created_time DESC, pk DESC);
CREATE INDEX IF NOT EXISTS media_time ON media (created_time DESC, pk DESC);
CREATE INDEX IF NOT EXISTS media_location ON media (location_id, created_time DESC, pk DESC);

CREATE TABLE IF NOT EXISTS media_tags (
    tag      TEXT NOT NULL,                    -- lower case, no '#'
    media_pk INTEGER NOT NULL REFERENCES media (pk),
    PRIMARY KEY (tag, media_pk)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS comments (
    id           INTEGER PRIMARY KEY,
    media_pk     INTEGER NOT NULL REFERENCES media (pk),
    author       TEXT NOT NULL REFERENCES users (id),
    text         TEXT NOT NULL,
    created_time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_media ON comments (media_pk, created_time, id);

CREATE TABLE IF NOT EXISTS likes (
    seq      INTEGER PRIMARY KEY,              -- like order: the max_like_id cursor
    media_pk INTEGER NOT NULL REFERENCES media (pk),
    user_id  TEXT NOT NULL REFERENCES users (id),
    UNIQUE (media_pk, user_id)
);
CREATE INDEX IF NOT EXISTS likes_user ON likes (user_id, seq);

CREATE TABLE IF NOT EXISTS follows (
    seq      INTEGER PRIMARY KEY,              -- follow order: the follows/followed-by cursor
    follower TEXT NOT NULL REFERENCES users (id),
    followee TEXT NOT NULL REFERENCES users (id),
    status   TEXT NOT NULL CHECK (status IN ('follows', 'requested')),
    UNIQUE (follower, followee)
);
CREATE INDEX IF NOT EXISTS follows_followee ON follows (followee, status, seq);

CREATE TABLE IF NOT EXISTS subscriptions (
    id           INTEGER PRIMARY KEY,
    client_id    TEXT NOT NULL,
    object       TEXT NOT NULL,
    object_id    TEXT,
    aspect       TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    verify_token TEXT,
    lat          REAL,
    lng          REAL,
    radius       INTEGER
);

-- The anime catalog, filled from AniList.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE anime (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Upsert key: AniList's media id.
    anilist_id   bigint      NOT NULL UNIQUE CHECK (anilist_id > 0),
    mal_id       bigint      CHECK (mal_id > 0),
    -- The current slug; every slug ever published is in anime_slugs.
    slug         text        NOT NULL UNIQUE,
    title        text        NOT NULL,
    title_english text,
    title_native text,
    synonyms     text[]      NOT NULL DEFAULT '{}',
    format       text,
    status       text,
    episodes     integer     CHECK (episodes >= 0),
    duration     integer     CHECK (duration >= 0),
    season       text,
    season_year  integer,
    start_year   smallint, start_month smallint, start_day smallint,
    end_year     smallint, end_month smallint, end_day smallint,
    synopsis     text,
    cover_image_url text,
    site_url     text,
    -- Lower-cased titles and synonyms, for search.
    search_text  text        NOT NULL,
    -- SHA-256 of the normalised source record: a re-import of identical
    -- data is detected without comparing every column, and changes nothing.
    source_hash  bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX anime_mal_id ON anime (mal_id) WHERE mal_id IS NOT NULL;
CREATE INDEX anime_search_trgm ON anime USING gin (search_text gin_trgm_ops);

-- Every slug an anime has been published under, so old links keep working
-- after a title change.
CREATE TABLE anime_slugs (
    slug       text   PRIMARY KEY,
    anime_id   bigint NOT NULL REFERENCES anime (id) ON DELETE CASCADE
);
CREATE INDEX anime_slugs_anime ON anime_slugs (anime_id);

CREATE TABLE genres (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE anime_genres (
    anime_id bigint   NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
    genre_id bigint   NOT NULL REFERENCES genres (id),
    position smallint NOT NULL,
    PRIMARY KEY (anime_id, genre_id)
);
CREATE INDEX anime_genres_genre ON anime_genres (genre_id);

-- Keyed by AniList's studio id.
CREATE TABLE studios (
    id                  bigint  PRIMARY KEY,
    name                text    NOT NULL,
    is_animation_studio boolean NOT NULL
);

CREATE TABLE anime_studios (
    anime_id  bigint   NOT NULL REFERENCES anime (id) ON DELETE CASCADE,
    studio_id bigint   NOT NULL REFERENCES studios (id),
    is_main   boolean  NOT NULL,
    position  smallint NOT NULL,
    PRIMARY KEY (anime_id, studio_id)
);
CREATE INDEX anime_studios_studio ON anime_studios (studio_id);

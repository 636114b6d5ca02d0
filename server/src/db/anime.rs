//! SQL for the catalog: `anime`, `anime_slugs`, `genres`, `studios`.

use super::sql::Db;
use super::sql::params;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::DbError;

/// A date whose parts may be unknown; only a prefix may be known (a day
/// without a month is dropped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartialDate {
    pub year: Option<i16>,
    pub month: Option<i16>,
    pub day: Option<i16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudioCredit {
    pub id: i64,
    pub name: String,
    pub is_animation_studio: bool,
    pub is_main: bool,
}

/// A validated catalog record, ready to upsert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub anilist_id: i64,
    pub mal_id: Option<i64>,
    pub title: String,
    pub title_english: Option<String>,
    pub title_native: Option<String>,
    pub synonyms: Vec<String>,
    pub format: Option<String>,
    pub status: Option<String>,
    pub episodes: Option<i32>,
    pub duration: Option<i32>,
    pub season: Option<String>,
    pub season_year: Option<i32>,
    pub start: PartialDate,
    pub end: PartialDate,
    pub synopsis: Option<String>,
    pub cover_image_url: Option<String>,
    pub site_url: Option<String>,
    pub genres: Vec<String>,
    pub studios: Vec<StudioCredit>,
}

/// The row of an anime being upserted, locked for the caller's transaction.
pub struct Current {
    pub id: i64,
    pub slug: String,
    pub source_hash: Vec<u8>,
}

/// The anime with this AniList id, locked until the transaction ends.
pub async fn lock_by_anilist_id(db: &impl Db, anilist_id: i64) -> Result<Option<Current>, DbError> {
    let statement = "SELECT id, slug, source_hash FROM anime WHERE anilist_id = $1 FOR UPDATE";
    Ok(db
        .maybe_row(statement, &params![anilist_id])
        .await?
        .map(|row| Current {
            id: row.get("id"),
            slug: row.get("slug"),
            source_hash: row.get("source_hash"),
        }))
}

/// The anime that has published `slug`, if any.
pub async fn slug_owner(db: &impl Db, slug: &str) -> Result<Option<i64>, DbError> {
    let statement = "SELECT anime_id FROM anime_slugs WHERE slug = $1";
    Ok(db
        .maybe_row(statement, &params![slug])
        .await?
        .map(|row| row.get("anime_id")))
}

/// Writes a record under `slug` with its genres and studios (insert, or
/// update of the row with its AniList id); returns the anime id.
pub async fn write(
    db: &impl Db,
    record: &Record,
    slug: &str,
    search_text: &str,
    hash: &[u8],
) -> Result<i64, DbError> {
    let id = write_row(db, record, slug, search_text, hash).await?;
    replace_genres(db, id, &record.genres).await?;
    replace_studios(db, id, record).await?;
    Ok(id)
}

fn date_parts(date: PartialDate) -> [Option<i16>; 3] {
    [date.year, date.month, date.day]
}

/// Writes the anime's own row and publishes its slug; returns its id.
async fn write_row(
    db: &impl Db,
    r: &Record,
    slug: &str,
    search_text: &str,
    hash: &[u8],
) -> Result<i64, DbError> {
    let [sy, sm, sd] = date_parts(r.start);
    let [ey, em, ed] = date_parts(r.end);
    let statement = "INSERT INTO anime (anilist_id, mal_id, slug, title, title_english, title_native, synonyms, \
             format, status, episodes, duration, season, season_year, start_year, start_month, start_day, \
             end_year, end_month, end_day, synopsis, cover_image_url, site_url, search_text, source_hash) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24) \
             ON CONFLICT (anilist_id) DO UPDATE SET mal_id = excluded.mal_id, slug = excluded.slug, \
             title = excluded.title, title_english = excluded.title_english, title_native = excluded.title_native, \
             synonyms = excluded.synonyms, format = excluded.format, status = excluded.status, \
             episodes = excluded.episodes, duration = excluded.duration, season = excluded.season, \
             season_year = excluded.season_year, start_year = excluded.start_year, \
             start_month = excluded.start_month, start_day = excluded.start_day, end_year = excluded.end_year, \
             end_month = excluded.end_month, end_day = excluded.end_day, synopsis = excluded.synopsis, \
             cover_image_url = excluded.cover_image_url, site_url = excluded.site_url, \
             search_text = excluded.search_text, source_hash = excluded.source_hash, updated_at = now() \
             RETURNING id";
    let row = db
        .row(
            statement,
            &params![
                r.anilist_id,
                r.mal_id,
                slug,
                r.title,
                r.title_english,
                r.title_native,
                r.synonyms,
                r.format,
                r.status,
                r.episodes,
                r.duration,
                r.season,
                r.season_year,
                sy,
                sm,
                sd,
                ey,
                em,
                ed,
                r.synopsis,
                r.cover_image_url,
                r.site_url,
                search_text,
                hash
            ],
        )
        .await?;
    let id: i64 = row.get("id");
    let publish =
        "INSERT INTO anime_slugs (slug, anime_id) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING";
    db.run(publish, &params![slug, id]).await?;
    Ok(id)
}

async fn replace_genres(db: &impl Db, id: i64, genres: &[String]) -> Result<(), DbError> {
    db.run("DELETE FROM anime_genres WHERE anime_id = $1", &params![id])
        .await?;
    if genres.is_empty() {
        return Ok(());
    }
    db.run(
        "INSERT INTO genres (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING",
        &params![genres],
    )
    .await?;
    db.run(
        "INSERT INTO anime_genres (anime_id, genre_id, position) \
             SELECT $1, g.id, t.ord FROM unnest($2::text[]) WITH ORDINALITY AS t(name, ord) \
             JOIN genres g ON g.name = t.name",
        &params![id, genres],
    )
    .await?;
    Ok(())
}

async fn replace_studios(db: &impl Db, id: i64, r: &Record) -> Result<(), DbError> {
    db.run(
        "DELETE FROM anime_studios WHERE anime_id = $1",
        &params![id],
    )
    .await?;
    if r.studios.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = r.studios.iter().map(|s| s.id).collect();
    let names: Vec<&str> = r.studios.iter().map(|s| s.name.as_str()).collect();
    let animation: Vec<bool> = r.studios.iter().map(|s| s.is_animation_studio).collect();
    let main: Vec<bool> = r.studios.iter().map(|s| s.is_main).collect();
    db.run("INSERT INTO studios (id, name, is_animation_studio) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::bool[]) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, is_animation_studio = excluded.is_animation_studio \
             WHERE (studios.name, studios.is_animation_studio) IS DISTINCT FROM (excluded.name, excluded.is_animation_studio)", &params![ids, names, animation])
    .await?;
    db.run("INSERT INTO anime_studios (anime_id, studio_id, is_main, position) \
             SELECT $1, t.studio, t.main, t.ord FROM unnest($2::bigint[], $3::bool[]) WITH ORDINALITY AS t(studio, main, ord)", &params![id, ids, main])
    .await?;
    Ok(())
}

/// An anime with everything its detail shows.
#[derive(Clone, Debug)]
pub struct AnimeRow {
    pub id: i64,
    pub slug: String,
    pub anilist_id: i64,
    pub mal_id: Option<i64>,
    pub title: String,
    pub title_english: Option<String>,
    pub title_native: Option<String>,
    pub format: Option<String>,
    pub status: Option<String>,
    pub episodes: Option<i32>,
    pub season: Option<String>,
    pub season_year: Option<i32>,
    pub start: PartialDate,
    pub end: PartialDate,
    pub synopsis: Option<String>,
    pub cover_image_url: Option<String>,
    pub genres: Vec<String>,
    pub studios: Vec<StudioRow>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct StudioRow {
    pub id: i64,
    pub name: String,
    pub is_animation_studio: bool,
}

/// The detail columns, genres and studios aggregated in the same statement.
const DETAIL: &str = "SELECT a.id, a.slug, a.anilist_id, a.mal_id, a.title, a.title_english, a.title_native, \
     a.format, a.status, a.episodes, a.season, a.season_year, a.start_year, a.start_month, a.start_day, \
     a.end_year, a.end_month, a.end_day, a.synopsis, a.cover_image_url, a.updated_at, \
     COALESCE((SELECT array_agg(g.name ORDER BY ag.position) FROM anime_genres ag \
               JOIN genres g ON g.id = ag.genre_id WHERE ag.anime_id = a.id), '{}') AS genres, \
     COALESCE((SELECT json_agg(json_build_object('id', s.id, 'name', s.name, \
               'is_animation_studio', s.is_animation_studio) ORDER BY ast.position) \
               FROM anime_studios ast JOIN studios s ON s.id = ast.studio_id WHERE ast.anime_id = a.id), '[]') AS studios \
     FROM anime a";

fn detail(row: &tokio_postgres::Row) -> Result<AnimeRow, DbError> {
    let studios: serde_json::Value = row.get("studios");
    let studios: Vec<StudioRow> = serde_json::from_value(studios)
        .map_err(|e| DbError::Unexpected(format!("studios aggregate: {e}")))?;
    Ok(AnimeRow {
        id: row.get("id"),
        slug: row.get("slug"),
        anilist_id: row.get("anilist_id"),
        mal_id: row.get("mal_id"),
        title: row.get("title"),
        title_english: row.get("title_english"),
        title_native: row.get("title_native"),
        format: row.get("format"),
        status: row.get("status"),
        episodes: row.get("episodes"),
        season: row.get("season"),
        season_year: row.get("season_year"),
        start: PartialDate {
            year: row.get("start_year"),
            month: row.get("start_month"),
            day: row.get("start_day"),
        },
        end: PartialDate {
            year: row.get("end_year"),
            month: row.get("end_month"),
            day: row.get("end_day"),
        },
        synopsis: row.get("synopsis"),
        cover_image_url: row.get("cover_image_url"),
        genres: row.get("genres"),
        studios,
        updated_at: row.get("updated_at"),
    })
}

pub async fn by_anilist_id(db: &impl Db, anilist_id: i64) -> Result<Option<AnimeRow>, DbError> {
    let statement = &format!("{DETAIL} WHERE a.anilist_id = $1");
    db.maybe_row(statement, &params![anilist_id])
        .await?
        .as_ref()
        .map(detail)
        .transpose()
}

/// By current or former slug.
pub async fn by_slug(db: &impl Db, slug: &str) -> Result<Option<AnimeRow>, DbError> {
    let statement = &format!("{DETAIL} JOIN anime_slugs s ON s.anime_id = a.id WHERE s.slug = $1");
    db.maybe_row(statement, &params![slug])
        .await?
        .as_ref()
        .map(detail)
        .transpose()
}

/// Catalog search; every filter optional. `q` is matched as a substring of
/// the lower-cased titles and synonyms.
pub async fn search(
    db: &impl Db,
    mal_id: Option<i64>,
    anilist_id: Option<i64>,
    q: Option<&str>,
    limit: i64,
) -> Result<Vec<AnimeRow>, DbError> {
    let pattern = q.map(|q| format!("%{}%", like_escape(&q.to_lowercase())));
    let q_lower = q.map(str::to_lowercase);
    let statement = &format!(
        "{DETAIL} WHERE ($1::bigint IS NULL OR a.mal_id = $1) \
               AND ($2::bigint IS NULL OR a.anilist_id = $2) \
               AND ($3::text IS NULL OR a.search_text LIKE $3 ESCAPE '\\') \
             ORDER BY (lower(coalesce(a.title_english, '')) = $4 OR lower(a.title) = $4) DESC, \
                      similarity(a.search_text, coalesce($4, '')) DESC, a.anilist_id \
             LIMIT $5"
    );
    db.rows(
        statement,
        &params![mal_id, anilist_id, pattern, q_lower, limit],
    )
    .await?
    .iter()
    .map(detail)
    .collect()
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

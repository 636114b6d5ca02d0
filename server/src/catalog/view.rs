//! Catalog reads: lookups and search, as wire types.

use crate::db::sql::Db;
use anitrack_spec::types::{Anime, ExternalIds, Studio};

use crate::catalog::reads::CatalogRead;
use crate::db::anime::{self, AnimeRow};
use crate::error::Error;
use crate::validate::{QueryInput, TextKind, forbidden_character};

use anitrack_spec::limits::{
    ID_MIN, SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX, SEARCH_LIMIT_MIN, SEARCH_Q_MAX,
};

pub fn to_wire(row: AnimeRow) -> Anime {
    Anime {
        id: row.id,
        slug: row.slug,
        anilist_id: row.anilist_id,
        title: row.title,
        title_english: row.title_english,
        title_native: row.title_native,
        format: row.format,
        status: row.status,
        episodes: row.episodes,
        season: row.season,
        season_year: row.season_year,
        start_date: row.start.to_iso(),
        end_date: row.end.to_iso(),
        synopsis: row.synopsis,
        cover_image_url: row.cover_image_url,
        genres: row.genres,
        studios: row
            .studios
            .into_iter()
            .map(|s| Studio {
                id: s.id,
                name: s.name,
                is_animation_studio: s.is_animation_studio,
            })
            .collect(),
        external_ids: ExternalIds {
            anilist: row.anilist_id,
            mal: row.mal_id,
        },
        updated_at: row.updated_at.into(),
    }
}

pub async fn by_anilist_id(client: &impl Db, anilist_id: i64) -> Result<Anime, Error> {
    anime::by_anilist_id(client, anilist_id)
        .await?
        .map(to_wire)
        .ok_or(Error::NotFound)
}

pub async fn by_slug(client: &impl Db, slug: &str) -> Result<Anime, Error> {
    // No slug holds a control character; PostgreSQL cannot even compare NUL.
    if forbidden_character(slug, TextKind::Line).is_some() {
        return Err(Error::NotFound);
    }
    anime::by_slug(client, slug)
        .await?
        .map(to_wire)
        .ok_or(Error::NotFound)
}

/// `GET /anime` with its query validated first.
pub async fn search(
    client: &impl Db,
    get: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Vec<Anime>, Error> {
    let mut input = QueryInput::new(get);
    let mal_id = input.integer("mal_id", ID_MIN, i64::MAX);
    let anilist_id = input.integer("anilist_id", ID_MIN, i64::MAX);
    let q = input.string("q", SEARCH_Q_MAX);
    let limit = input
        .integer("limit", SEARCH_LIMIT_MIN, SEARCH_LIMIT_MAX)
        .unwrap_or(SEARCH_LIMIT_DEFAULT);
    input.finish(())?;
    Ok(
        anime::search(client, mal_id, anilist_id, q.as_deref(), limit)
            .await?
            .into_iter()
            .map(to_wire)
            .collect(),
    )
}

/// `GET /anime/{slug}`'s read.
pub struct BySlug<'a>(pub &'a str);

impl CatalogRead for BySlug<'_> {
    type Output = Anime;

    async fn read(&self, db: &deadpool_postgres::Object) -> Result<Anime, Error> {
        by_slug(db, self.0).await
    }
}

/// `GET /anime/anilist/{anilistId}`'s read; `None` for a path that names
/// no AniList id (404 once the token is accepted).
pub struct ByAnilistId(pub Option<i64>);

impl CatalogRead for ByAnilistId {
    type Output = Anime;

    async fn read(&self, db: &deadpool_postgres::Object) -> Result<Anime, Error> {
        by_anilist_id(db, self.0.ok_or(Error::NotFound)?).await
    }
}

/// `GET /anime`'s read, from its query parameters.
pub struct Search<'a>(pub &'a (dyn Fn(&str) -> Option<String> + Sync));

impl CatalogRead for Search<'_> {
    type Output = Vec<Anime>;

    async fn read(&self, db: &deadpool_postgres::Object) -> Result<Vec<Anime>, Error> {
        search(db, self.0).await
    }
}

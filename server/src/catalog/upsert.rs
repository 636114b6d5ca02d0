//! Writing one catalog record: unchanged data writes nothing, and the slug
//! is chosen so that a published one keeps resolving.

use crate::db::sql::Db;

use super::media::Record;
use super::slug;
use crate::db::DbError;
use crate::db::anime;

/// What an upsert did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    Inserted,
    Updated,
    Unchanged,
}

/// Inserts or updates one record, keyed by AniList id, inside the caller's
/// transaction. Identical data (same source hash) writes nothing.
pub async fn upsert(db: &impl Db, record: &Record) -> Result<Upserted, DbError> {
    let hash = record.source_hash();
    let current = anime::lock_by_anilist_id(db, record.anilist_id).await?;
    let (id, slug_now, outcome) = match &current {
        Some(current) if current.source_hash == hash.as_slice() => {
            return Ok(Upserted::Unchanged);
        }
        Some(current) => (current.id, current.slug.as_str(), Upserted::Updated),
        None => (0, "", Upserted::Inserted),
    };
    let slug = choose_slug(db, record, id, slug_now).await?;
    anime::write(db, record, &slug, &record.search_text(), &hash).await?;
    Ok(outcome)
}

/// Keeps the current slug while the title still slugifies to the same base;
/// otherwise the first free candidate (see [`slug::candidates`]). A slug
/// once published stays in `anime_slugs`, so it keeps resolving.
async fn choose_slug(
    db: &impl Db,
    record: &Record,
    id: i64,
    current: &str,
) -> Result<String, DbError> {
    let base = slug::base_slug(record.title_english.as_deref(), &record.title);
    let candidates = slug::candidates(&base, record.season_year, record.anilist_id);
    if candidates.iter().any(|c| c == current) {
        return Ok(current.to_string());
    }
    for candidate in &candidates {
        match anime::slug_owner(db, candidate).await? {
            None => return Ok(candidate.clone()),
            Some(owner) if owner == id => return Ok(candidate.clone()),
            Some(_) => continue,
        }
    }
    // The last candidate embeds the AniList id, unique among anime; it can
    // only be taken by this very anime, handled above.
    Ok(candidates.last().cloned().unwrap_or(base))
}

//! AniList `Media` objects, as AniList's GraphQL API returns them, and their
//! validated, normalised form ([`Record`]).

use serde::Deserialize;

pub use crate::db::anime::{PartialDate, Record, StudioCredit};
use sha2::{Digest, Sha256};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub id: i64,
    pub id_mal: Option<i64>,
    pub title: Title,
    pub format: Option<String>,
    pub status: Option<String>,
    pub episodes: Option<i32>,
    pub duration: Option<i32>,
    pub season: Option<String>,
    pub season_year: Option<i32>,
    pub start_date: Option<FuzzyDate>,
    pub end_date: Option<FuzzyDate>,
    pub description: Option<String>,
    pub cover_image: Option<CoverImage>,
    #[serde(default)]
    pub genres: Option<Vec<String>>,
    #[serde(default)]
    pub synonyms: Option<Vec<String>>,
    pub studios: Option<Studios>,
    pub site_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Title {
    pub romaji: Option<String>,
    pub english: Option<String>,
    pub native: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct FuzzyDate {
    pub year: Option<i32>,
    pub month: Option<i32>,
    pub day: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoverImage {
    pub extra_large: Option<String>,
    pub large: Option<String>,
    pub medium: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Studios {
    #[serde(default)]
    pub edges: Vec<StudioEdge>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StudioEdge {
    #[serde(default)]
    pub is_main: bool,
    pub node: StudioNode,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StudioNode {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub is_animation_studio: bool,
}

impl PartialDate {
    /// ISO 8601 with reduced precision: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub fn to_iso(self) -> Option<String> {
        match (self.year, self.month, self.day) {
            (Some(y), Some(m), Some(d)) => Some(format!("{y:04}-{m:02}-{d:02}")),
            (Some(y), Some(m), None) => Some(format!("{y:04}-{m:02}")),
            (Some(y), None, _) => Some(format!("{y:04}")),
            _ => None,
        }
    }
}

/// Byte limits that keep the list's covering index (`anime_list_summary`:
/// slug, title and cover URL; migration V6) far under PostgreSQL's btree
/// limit of 2,704 bytes per entry, so one odd record cannot fail a write.
/// Real AniList romaji titles stay under 200 bytes, cover URLs near 100.
const MAX_TITLE_BYTES: usize = 500;
const MAX_COVER_URL_BYTES: usize = 1000;

fn clean(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

fn date(fuzzy: Option<FuzzyDate>, field: &str) -> Result<PartialDate, String> {
    let Some(fuzzy) = fuzzy else {
        return Ok(PartialDate::default());
    };
    let year = match fuzzy.year {
        Some(y) if (1900..=2200).contains(&y) => Some(y as i16),
        Some(y) => return Err(format!("{field}.year {y} is out of range")),
        None => None,
    };
    let month = match fuzzy.month {
        Some(m) if (1..=12).contains(&m) => Some(m as i16),
        Some(m) => return Err(format!("{field}.month {m} is out of range")),
        None => None,
    };
    let day = match fuzzy.day {
        Some(d) if (1..=31).contains(&d) => Some(d as i16),
        Some(d) => return Err(format!("{field}.day {d} is out of range")),
        None => None,
    };
    if let (Some(y), Some(m), Some(d)) = (year, month, day)
        && chrono::NaiveDate::from_ymd_opt(y.into(), m as u32, d as u32).is_none()
    {
        return Err(format!("{field} {y:04}-{m:02}-{d:02} is not a date"));
    }
    // Only a known prefix is meaningful.
    Ok(match (year, month) {
        (Some(_), Some(_)) => PartialDate { year, month, day },
        (Some(_), None) => PartialDate {
            year,
            month: None,
            day: None,
        },
        _ => PartialDate::default(),
    })
}

impl TryFrom<Media> for Record {
    type Error = String;

    /// A record ready to write, or why this media cannot be one. PostgreSQL
    /// cannot store NUL in text, so a field holding one refuses the record
    /// (one bad record must never fail the batch it would travel in).
    fn try_from(media: Media) -> Result<Self, String> {
        let record = Record::build(media)?;
        match record.field_with_nul() {
            Some(field) => Err(format!(
                "{field} contains a NUL control character, which cannot be stored"
            )),
            None => Ok(record),
        }
    }
}

impl Record {
    fn build(media: Media) -> Result<Self, String> {
        if media.id <= 0 {
            return Err(format!("id {} is not a positive integer", media.id));
        }
        let title = clean(media.title.romaji).ok_or("title.romaji is missing")?;
        if title.len() > MAX_TITLE_BYTES {
            return Err(format!(
                "title.romaji is longer than {MAX_TITLE_BYTES} bytes"
            ));
        }
        if media.episodes.is_some_and(|e| e < 0) {
            return Err("episodes is negative".into());
        }
        if media.duration.is_some_and(|d| d < 0) {
            return Err("duration is negative".into());
        }
        let mut genres: Vec<String> = Vec::new();
        for genre in media
            .genres
            .unwrap_or_default()
            .into_iter()
            .filter_map(|g| clean(Some(g)))
        {
            if !genres.contains(&genre) {
                genres.push(genre);
            }
        }
        let mut studios: Vec<StudioCredit> = Vec::new();
        for edge in media.studios.map(|s| s.edges).unwrap_or_default() {
            if edge.node.id <= 0 {
                return Err(format!(
                    "studio id {} is not a positive integer",
                    edge.node.id
                ));
            }
            let name = clean(Some(edge.node.name)).ok_or("a studio has no name")?;
            if !studios.iter().any(|s| s.id == edge.node.id) {
                studios.push(StudioCredit {
                    id: edge.node.id,
                    name,
                    is_animation_studio: edge.node.is_animation_studio,
                    is_main: edge.is_main,
                });
            }
        }
        // Main studios first, AniList's order otherwise.
        studios.sort_by_key(|s| !s.is_main);
        let cover = media
            .cover_image
            .and_then(|c| clean(c.extra_large).or(clean(c.large)).or(clean(c.medium)));
        if cover
            .as_ref()
            .is_some_and(|c| c.len() > MAX_COVER_URL_BYTES)
        {
            return Err(format!(
                "coverImage URL is longer than {MAX_COVER_URL_BYTES} bytes"
            ));
        }
        Ok(Record {
            anilist_id: media.id,
            mal_id: media.id_mal.filter(|id| *id > 0),
            title,
            title_english: clean(media.title.english),
            title_native: clean(media.title.native),
            synonyms: media
                .synonyms
                .unwrap_or_default()
                .into_iter()
                .filter_map(|s| clean(Some(s)))
                .collect(),
            format: clean(media.format),
            status: clean(media.status),
            episodes: media.episodes,
            duration: media.duration,
            season: clean(media.season),
            season_year: media.season_year,
            start: date(media.start_date, "startDate")?,
            end: date(media.end_date, "endDate")?,
            synopsis: clean(media.description.map(|d| plain_text(&d))),
            cover_image_url: cover,
            site_url: clean(media.site_url),
            genres,
            studios,
        })
    }
}

impl Record {
    /// The first text field (by its AniList name) that holds a NUL.
    fn field_with_nul(&self) -> Option<&'static str> {
        let has = |text: &str| text.contains('\0');
        let has_opt = |text: &Option<String>| text.as_deref().is_some_and(has);
        [
            ("title.romaji", has(&self.title)),
            ("title.english", has_opt(&self.title_english)),
            ("title.native", has_opt(&self.title_native)),
            ("synonyms", self.synonyms.iter().any(|s| has(s))),
            ("format", has_opt(&self.format)),
            ("status", has_opt(&self.status)),
            ("season", has_opt(&self.season)),
            ("description", has_opt(&self.synopsis)),
            ("coverImage", has_opt(&self.cover_image_url)),
            ("siteUrl", has_opt(&self.site_url)),
            ("genres", self.genres.iter().any(|g| has(g))),
            ("studios", self.studios.iter().any(|s| has(&s.name))),
        ]
        .into_iter()
        .find_map(|(field, bad)| bad.then_some(field))
    }

    /// Lower-cased titles and synonyms, searched by `GET /anime?q=`.
    pub fn search_text(&self) -> String {
        let mut parts = vec![self.title.as_str()];
        parts.extend(self.title_english.as_deref());
        parts.extend(self.title_native.as_deref());
        parts.extend(self.synonyms.iter().map(String::as_str));
        parts.join("\n").to_lowercase()
    }

    /// SHA-256 of every field, so an unchanged re-import is a no-op.
    pub fn source_hash(&self) -> [u8; 32] {
        Sha256::digest(format!("{self:?}").as_bytes()).into()
    }
}

/// AniList descriptions are HTML fragments (`<br>`, `<i>`, entities): keep
/// the text and its line breaks, drop the markup.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => {
                let tag = rest[start + 1..start + end].trim().to_ascii_lowercase();
                if tag.starts_with("br") || tag == "/p" {
                    out.push('\n');
                }
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    let decoded = out
        .replace("&quot;", "\"")
        .replace("&#039;", "'")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&mdash;", "—")
        .replace("&ndash;", "–")
        .replace("&amp;", "&");
    // Collapse runs of blank lines that <br><br> leaves behind.
    let lines: Vec<&str> = decoded.lines().map(str::trim_end).collect();
    let mut text = String::new();
    let mut blank = 0;
    for line in lines {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn media(value: serde_json::Value) -> Result<Record, String> {
        let media: Media = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Record::try_from(media)
    }

    fn demon_slayer() -> serde_json::Value {
        json!({
            "id": 101922, "idMal": 38000,
            "title": {"romaji": "Kimetsu no Yaiba", "english": "Demon Slayer: Kimetsu no Yaiba", "native": "鬼滅の刃"},
            "format": "TV", "status": "FINISHED", "episodes": 26, "duration": 24,
            "season": "SPRING", "seasonYear": 2019,
            "startDate": {"year": 2019, "month": 4, "day": 6},
            "endDate": {"year": 2019, "month": 9, "day": 28},
            "description": "It is the Taisho Period in Japan.<br><br>Tanjiro&#039;s family <i>is</i> slain &amp; more.",
            "coverImage": {"large": "https://example.test/l.jpg", "medium": "https://example.test/m.jpg"},
            "genres": ["Action", "Adventure", "Action", "Drama"],
            "studios": {"edges": [
                {"isMain": false, "node": {"id": 6145, "name": "Aniplex", "isAnimationStudio": false}},
                {"isMain": true, "node": {"id": 43, "name": "ufotable", "isAnimationStudio": true}}
            ]},
            "siteUrl": "https://anilist.co/anime/101922"
        })
    }

    #[test]
    fn a_full_media_object_normalises() {
        let record = media(demon_slayer()).unwrap();
        assert_eq!(record.anilist_id, 101922);
        assert_eq!(record.mal_id, Some(38000));
        assert_eq!(record.genres, ["Action", "Adventure", "Drama"]);
        assert_eq!(record.studios[0].name, "ufotable", "main studio first");
        assert_eq!(record.start.to_iso().as_deref(), Some("2019-04-06"));
        assert_eq!(
            record.cover_image_url.as_deref(),
            Some("https://example.test/l.jpg")
        );
        assert_eq!(
            record.synopsis.as_deref(),
            Some("It is the Taisho Period in Japan.\n\nTanjiro's family is slain & more.")
        );
        assert!(record.search_text().contains("鬼滅の刃"));
    }

    #[test]
    fn fuzzy_dates_keep_only_a_known_prefix() {
        let mut value = demon_slayer();
        value["startDate"] = json!({"year": 2019, "month": null, "day": 6});
        value["endDate"] = json!({"year": null, "month": null, "day": null});
        let record = media(value).unwrap();
        assert_eq!(record.start.to_iso().as_deref(), Some("2019"));
        assert_eq!(record.end.to_iso(), None);
    }

    #[test]
    fn bad_records_say_why() {
        let mut value = demon_slayer();
        value["title"]["romaji"] = json!(null);
        assert_eq!(media(value).unwrap_err(), "title.romaji is missing");
        let mut value = demon_slayer();
        value["startDate"] = json!({"year": 2019, "month": 2, "day": 30});
        assert!(media(value).unwrap_err().contains("not a date"));
        let mut value = demon_slayer();
        value["id"] = json!("x");
        assert!(media(value).unwrap_err().contains("invalid type"));
        let mut value = demon_slayer();
        value["episodes"] = json!(-1);
        assert_eq!(media(value).unwrap_err(), "episodes is negative");
        let mut value = demon_slayer();
        value["title"]["romaji"] = json!("鬼".repeat(167));
        assert_eq!(
            media(value).unwrap_err(),
            "title.romaji is longer than 500 bytes"
        );
        let mut value = demon_slayer();
        value["coverImage"]["large"] = json!(format!("https://example.test/{}", "x".repeat(1000)));
        assert_eq!(
            media(value).unwrap_err(),
            "coverImage URL is longer than 1000 bytes"
        );
        for (path, field) in [
            (&["title", "english"][..], "title.english"),
            (&["description"][..], "description"),
        ] {
            let mut value = demon_slayer();
            let mut slot = &mut value;
            for key in path {
                slot = &mut slot[*key];
            }
            *slot = json!("a\u{0}b");
            let error = media(value).unwrap_err();
            assert!(error.starts_with(field) && error.contains("NUL"), "{error}");
        }
    }

    #[test]
    fn the_hash_changes_with_any_field() {
        let a = media(demon_slayer()).unwrap();
        let mut value = demon_slayer();
        value["episodes"] = json!(27);
        let b = media(value).unwrap();
        assert_eq!(
            a.source_hash(),
            media(demon_slayer()).unwrap().source_hash()
        );
        assert_ne!(a.source_hash(), b.source_hash());
    }
}

//! Slugs: the English title, else the romaji title, as lowercase ASCII
//! words joined by single hyphens (`Demon Slayer: Kimetsu no Yaiba` →
//! `demon-slayer-kimetsu-no-yaiba`).

/// Longest slug base, in characters (suffixes come on top).
const MAX_LEN: usize = 80;

/// Lowercase ASCII letters and digits separated by single hyphens; accented
/// Latin letters lose their accents, other characters separate words.
pub fn slugify(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut pending_hyphen = false;
    for c in title.chars().flat_map(fold) {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            out.push(c.to_ascii_lowercase());
        } else if c != '\'' && c != '’' {
            // Apostrophes join (`Frieren's` → `frierens`); all else separates.
            pending_hyphen = true;
        }
    }
    if out.len() > MAX_LEN {
        out.truncate(MAX_LEN);
        while out.ends_with('-') {
            out.pop();
        }
    }
    out
}

/// The base slug of a title pair: English, else romaji; `anime` if neither
/// has a single ASCII letter or digit (e.g. a title in kana only).
pub fn base_slug(english: Option<&str>, romaji: &str) -> String {
    let from_english = english.map(slugify).filter(|s| !s.is_empty());
    from_english
        .or_else(|| Some(slugify(romaji)).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "anime".into())
}

/// Candidate slugs in order of preference: the base, then the base with the
/// season year (`hunter-x-hunter-2011`), then with the AniList id, which is
/// unique, so the last candidate never collides with another anime.
pub fn candidates(base: &str, season_year: Option<i32>, anilist_id: i64) -> Vec<String> {
    let mut out = vec![base.to_string()];
    if let Some(year) = season_year {
        out.push(format!("{base}-{year}"));
    }
    out.push(format!("{base}-anilist-{anilist_id}"));
    out
}

/// Folds accented Latin letters to ASCII; other characters pass through.
fn fold(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' => {
            "a"
        }
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ē' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' => {
            "o"
        }
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        '×' => "x",
        '&' => " and ",
        _ => "",
    };
    let single = if folded.is_empty() { Some(c) } else { None };
    folded.chars().chain(single)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_example() {
        assert_eq!(
            slugify("Demon Slayer: Kimetsu no Yaiba"),
            "demon-slayer-kimetsu-no-yaiba"
        );
    }

    #[test]
    fn examples() {
        assert_eq!(
            slugify("Re:ZERO -Starting Life in Another World-"),
            "re-zero-starting-life-in-another-world"
        );
        assert_eq!(slugify("Steins;Gate"), "steins-gate");
        assert_eq!(
            slugify("Frieren: Beyond Journey’s End"),
            "frieren-beyond-journeys-end"
        );
        assert_eq!(slugify("Pokémon"), "pokemon");
        assert_eq!(slugify("Kimi no Na wa."), "kimi-no-na-wa");
        assert_eq!(slugify("Hunter × Hunter"), "hunter-x-hunter");
        assert_eq!(slugify("  --  "), "");
        assert_eq!(slugify("進撃の巨人"), "");
    }

    #[test]
    fn english_first_then_romaji_then_a_fallback() {
        assert_eq!(
            base_slug(Some("Attack on Titan"), "Shingeki no Kyojin"),
            "attack-on-titan"
        );
        assert_eq!(base_slug(None, "Shingeki no Kyojin"), "shingeki-no-kyojin");
        assert_eq!(
            base_slug(Some("！！"), "Shingeki no Kyojin"),
            "shingeki-no-kyojin"
        );
        assert_eq!(base_slug(None, "進撃の巨人"), "anime");
    }

    #[test]
    fn collision_candidates_are_readable_and_end_unique() {
        assert_eq!(
            candidates("hunter-x-hunter", Some(2011), 11061),
            [
                "hunter-x-hunter",
                "hunter-x-hunter-2011",
                "hunter-x-hunter-anilist-11061"
            ]
        );
        assert_eq!(candidates("x", None, 5), ["x", "x-anilist-5"]);
    }

    proptest! {
        #[test]
        fn slugs_are_lowercase_ascii_words_joined_by_single_hyphens(title in "\\PC{0,200}") {
            let slug = slugify(&title);
            prop_assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{}", slug);
            prop_assert!(!slug.starts_with('-') && !slug.ends_with('-'), "{}", slug);
            prop_assert!(!slug.contains("--"), "{}", slug);
            prop_assert!(slug.len() <= MAX_LEN);
            // Stable: the same title always gives the same slug, and a slug
            // is its own slug.
            prop_assert_eq!(slugify(&title), slug.clone());
            prop_assert_eq!(slugify(&slug), slug);
        }
    }
}

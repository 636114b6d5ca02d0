// With `cargo xtask dev` running (it prints a token):
//   ANITRACK_TOKEN=atk_... cargo run -p anitrack-client --example readme
use anitrack_client::types::{ListEntryPatch, ListStatus, NewListEntry};
use anitrack_client::{Client, ErrorExt as _, Patch, RetryPolicy, StatusCode};
use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("ANITRACK_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("ANITRACK_TOKEN").context("set ANITRACK_TOKEN")?;
    // `Client::with_token(&url, &token)?` is the short form, without retries.
    let client = Client::builder(&url)
        .token(token)
        .user_agent_suffix("readme-example/1.0")
        // 429 and 503 are sent again after Retry-After (3 attempts, 60 s).
        .retries(RetryPolicy::default())
        .build()?;

    let me = client.user_view().send().await?.into_inner();
    // Fullmetal Alchemist: Brotherhood, from the demo catalog.
    let anime = client
        .anime_view_by_anilist_id()
        .anilist_id(5114)
        .send()
        .await?
        .into_inner();

    // A refusal carries its status and the contract's error body, typed.
    let entry = match client
        .list_entry_for_anime()
        .anime_id(anime.id)
        .send()
        .await
    {
        Ok(entry) => entry.into_inner(),
        Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => {
            let body = error.body().context("a 404 has a body")?;
            println!(
                "not on {}'s list yet ({}): adding it",
                me.name, body.message
            );
            let new = NewListEntry::builder()
                .anime_id(anime.id)
                .status(ListStatus::Watching);
            client
                .list_entry_create()
                .body(new)
                .send()
                .await?
                .into_inner()
        }
        Err(error) => return Err(error.into()),
    };

    // Fields left out stay as they are; `Patch::Clear` sends `null`: cleared.
    for patch in [
        ListEntryPatch::default().progress(1).score(90),
        ListEntryPatch::default().score(Patch::Clear),
    ] {
        let entry = client
            .list_entry_update()
            .entry_id(entry.id)
            .body(patch)
            .send()
            .await?
            .into_inner();
        let score = entry.score.map_or("none".to_string(), |s| s.to_string());
        println!(
            "{}: progress {}, score {score}",
            anime.title, entry.progress
        );
    }

    // A 422 says which field it refused, and why.
    let refused = client
        .list_entry_update()
        .entry_id(entry.id)
        .body(ListEntryPatch::default().progress(-1))
        .send()
        .await
        .err()
        .context("progress -1 is refused")?;
    let status = refused.status().context("the server answered")?;
    println!("{status}: {}", refused.field_errors("progress").join(" "));
    Ok(())
}

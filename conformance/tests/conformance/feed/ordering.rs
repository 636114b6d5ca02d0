//! No change is ever skipped, also when two writes to one account commit in
//! another order than they started in.
//!
//! A [`Gate`] holds the first write inside its transaction, after its row
//! is written: it has taken whatever position it will have. The second
//! write, started after it through another instance, would commit first if
//! positions were handed out apart from the per-account lock (a sequence, a
//! timestamp), and a follower reading meanwhile would move its cursor past
//! the first write's position and never see it. With positions taken under
//! the account's lock, the second write waits, and the follower sees both.

use std::time::{Duration, Instant};

use anitrack_client::types::ListStatus;
use anitrack_conformance::world::{World, new_entry, patch};

use super::{
    Follower, Gate, PATIENT, anime_ids, assert_same_list, eventually, listed, second_instance,
};
use crate::support::head;

/// One write of a race.
#[derive(Clone, Copy, Debug)]
enum Write {
    Add(i64),
    Progress(i64, i32),
    Delete(i64),
}

/// Sends `write`; the status of the answer.
async fn perform(client: anitrack_client::Client, write: Write) -> u16 {
    match write {
        Write::Add(anime_id) => {
            head(
                &client
                    .list_entry_create()
                    .body(new_entry(anime_id, ListStatus::Watching))
                    .send()
                    .await,
            )
            .0
        }
        Write::Progress(entry_id, progress) => {
            head(
                &client
                    .list_entry_update()
                    .entry_id(entry_id)
                    .body(patch().progress(progress))
                    .send()
                    .await,
            )
            .0
        }
        Write::Delete(entry_id) => {
            head(&client.list_entry_delete().entry_id(entry_id).send().await).0
        }
    }
}

/// `first` (a write to `gated_anime`'s entry) starts and is held inside
/// its transaction; `second` starts after it through the other instance;
/// the follower reads while `first` has not committed; then the gate opens.
/// The follower's copy must then be the list. The two answers' statuses.
async fn race(
    world: &World,
    other: &anitrack_client::Client,
    follower: &mut Follower,
    gated_anime: i64,
    first: Write,
    second: Write,
) -> (u16, u16) {
    let env = &world.env;
    let client = world.client();
    Gate::gate_anime(env, gated_anime).await;
    let gate = Gate::close(env).await;
    let first_task = tokio::spawn(perform(world.client(), first));
    gate.wait_for(1).await;
    let second_task = tokio::spawn(perform(other.clone(), second));
    // Until the second write committed, or waits behind the first.
    let (task, held) = (&second_task, &gate);
    eventually(Duration::from_secs(3), || async move {
        task.is_finished() || held.lock_waiters().await >= 2
    })
    .await;
    let second_done_early = second_task.is_finished();
    // The gate opens on a timer, so that a read waiting for the first
    // write cannot keep it shut.
    let opener = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        gate.open().await;
    });
    let reading_until = Instant::now() + Duration::from_millis(500);
    let mut reads = 0;
    while Instant::now() < reading_until {
        follower.catch_up(&client, None).await;
        reads += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    opener.await.expect("the gate opens");
    let statuses = (
        first_task.await.expect("the first write"),
        second_task.await.expect("the second write"),
    );
    println!(
        "feed: {first:?} held, {second:?} {} it; the follower read {reads} times meanwhile",
        if second_done_early {
            "committed before"
        } else {
            "waited for"
        }
    );
    follower.catch_up(&client, None).await;
    assert_same_list(
        &follower.copy,
        &listed(&client).await,
        &format!("{first:?} held while {second:?} went on"),
    );
    Gate::ungate_anime(env, gated_anime).await;
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_change_is_skipped_when_writes_commit_in_another_order_than_they_started() {
    let world = World::with_env(&PATIENT).await;
    let (_second, other) = second_instance(&world).await;
    let client = world.client();
    let ids = anime_ids(&world.env, 3).await;
    let [x, y, z] = [ids[0], ids[1], ids[2]];
    let ex = world.add(new_entry(x, ListStatus::Watching)).await.id;
    let ey = world.add(new_entry(y, ListStatus::Watching)).await.id;
    Gate::install(&world.env).await;
    let mut follower = Follower::default();
    follower.catch_up(&client, None).await;

    // A PATCH held while an add goes on.
    let statuses = race(
        &world,
        &other,
        &mut follower,
        x,
        Write::Progress(ex, 1),
        Write::Add(z),
    )
    .await;
    assert_eq!(statuses, (200, 201));
    // A delete held while a PATCH goes on.
    let statuses = race(
        &world,
        &other,
        &mut follower,
        y,
        Write::Delete(ey),
        Write::Progress(ex, 2),
    )
    .await;
    assert_eq!(statuses, (204, 200));
    // A re-add held while a delete goes on.
    let statuses = race(
        &world,
        &other,
        &mut follower,
        y,
        Write::Add(y),
        Write::Delete(ex),
    )
    .await;
    assert_eq!(statuses, (201, 204));
    // Each held write is in the copy, in its latest state.
    let copy: Vec<(i64, i64)> = follower
        .copy
        .values()
        .map(|e| {
            (
                e["anime_id"].as_i64().expect("anime"),
                e["rev"].as_i64().expect("rev"),
            )
        })
        .collect();
    assert_eq!(copy.len(), 2, "{copy:?}");
    assert!(copy.contains(&(y, 1)) && copy.contains(&(z, 1)), "{copy:?}");
}

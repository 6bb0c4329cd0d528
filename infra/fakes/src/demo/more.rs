//! Demo data for Google (Calendar, Drive) and Microsoft Graph (Teams), and the fake OAuth users
//! attached to every demo account.

use chrono::{DateTime, Duration, Timelike, Utc};

use super::{ASANA_TOKEN, GOOGLE_TOKEN, MICROSOFT_TOKEN, NOTION_TOKEN, SLACK_TOKEN};
use crate::google::{DriveUser, EventAttendee, EventTime};
use crate::graph::TeamsMention;
use crate::oauth::{OAuthProvider, OAuthUser};
use crate::state::FakeState;

const DEMO_NAME: &str = "Demo User";
const DEMO_EMAIL: &str = "demo.user@example.com";
/// The demo user's colleagues.
const ALICE_NAME: &str = "Alice Example";
const ALICE_EMAIL: &str = "alice@example.com";
const BOB_EMAIL: &str = "bob@example.com";
/// The colleagues' names in the Teams messages.
const ALICE_TEAMS: &str = "Alice (fake)";
const BOB_TEAMS: &str = "Bob (fake)";

impl FakeState {
    pub(super) fn seed_google(&self) -> (String, Vec<String>, Vec<String>) {
        let sub = self.add_google_account(GOOGLE_TOKEN, DEMO_EMAIL, DEMO_NAME);
        let now = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now);
        let today_9 = now.date_naive().and_hms_opt(9, 0, 0).map_or(now, |t| t.and_utc());
        let mut events = Vec::new();
        // 30 upcoming (the 3rd, 13th and 23rd all-day), 8 past, 2 cancelled.
        for i in 0..40i64 {
            let (day, title) = match i {
                0..30 => (i + 1, format!("Upcoming meeting {}", i + 1)),
                30..38 => (29 - i, format!("Past meeting {}", i - 29)),
                _ => (i - 30, format!("Cancelled meeting {}", i - 37)),
            };
            let start = today_9 + Duration::days(day) + Duration::hours(i % 8);
            let id = self.add_calendar_event(GOOGLE_TOKEN, &title, start, start + Duration::minutes(30 + 15 * (i % 3)));
            let created = now - Duration::days(40 - i) - Duration::hours(3);
            self.update_calendar_event(&id, |e| {
                e.created = created;
                e.updated = created + Duration::hours(1);
                if i % 10 == 2 {
                    let date = start.date_naive();
                    e.start = EventTime::Date(date);
                    e.end = EventTime::Date(date.succ_opt().unwrap_or(date));
                }
                if i % 4 == 0 {
                    e.description = Some(format!("Fake agenda for {title}."));
                    e.location = Some("Fake Room 1".to_owned());
                    e.attendees = if i % 8 == 0 {
                        vec![
                            EventAttendee::new(DEMO_EMAIL, "accepted").organizing(),
                            EventAttendee::new(ALICE_EMAIL, "accepted"),
                            EventAttendee::new(BOB_EMAIL, "needsAction"),
                        ]
                    } else {
                        let mine = if i % 16 == 4 { "needsAction" } else { "tentative" };
                        vec![
                            EventAttendee::new(ALICE_EMAIL, "accepted").organizing(),
                            EventAttendee::new(DEMO_EMAIL, mine),
                            EventAttendee::new(BOB_EMAIL, "declined"),
                        ]
                    };
                }
            });
            if i >= 38 {
                self.cancel_calendar_event(&id);
            }
            events.push(id);
        }

        let mut files = Vec::new();
        let folders: Vec<String> = ["Projects", "Finance", "Archive"]
            .into_iter()
            .map(|name| self.add_drive_file(GOOGLE_TOKEN, name, "application/vnd.google-apps.folder"))
            .collect();
        files.extend(folders.iter().cloned());
        let kinds = [
            ("Doc", "application/vnd.google-apps.document"),
            ("Sheet", "application/vnd.google-apps.spreadsheet"),
            ("Report", "application/pdf"),
        ];
        for i in 0..27usize {
            let (kind, mime) = kinds[i % kinds.len()];
            let id = self.add_drive_file(GOOGLE_TOKEN, &format!("Demo {kind} {}", i + 1), mime);
            let created = now - Duration::hours(6 * (27 - i) as i64);
            let parent = folders[i % folders.len()].clone();
            self.modify_drive_file(&id, |f| {
                f.created_time = created;
                f.modified_time = created + Duration::minutes(45);
                f.parents = vec![parent];
                if i % 4 == 1 {
                    f.last_modifying_user = Some(DriveUser::new(ALICE_NAME, ALICE_EMAIL));
                }
            });
            if i % 13 == 12 {
                self.trash_drive_file(&id);
            }
            files.push(id);
        }
        (sub, events, files)
    }

    pub(super) fn seed_microsoft(&self) -> (String, Vec<String>, Vec<String>) {
        let user = self.add_microsoft_account(MICROSOFT_TOKEN, DEMO_NAME, DEMO_EMAIL);
        let now = Utc::now();
        let mut teams = Vec::new();
        let mut channels = Vec::new();
        for (team_name, topic) in [("Fake Product Team", "Roadmap"), ("Fake Support Team", "Escalations")] {
            let team = self.add_team(MICROSOFT_TOKEN, team_name);
            for channel_name in ["General", topic] {
                let channel = self.add_channel(&team, channel_name);
                let mut ids = Vec::new();
                for i in 0..30i64 {
                    let at = now - Duration::minutes(20 * (30 - i));
                    let from = if i % 2 == 0 { ALICE_TEAMS } else { BOB_TEAMS };
                    let html = format!("<p>{channel_name} message {}</p>", i + 1);
                    ids.push(self.add_channel_message_at(&channel, at, from, &html));
                }
                self.edit_channel_message(&channel, &ids[5], "<p>An edited fake message</p>");
                self.delete_channel_message(&channel, &ids[7]);
                if channel_name == "General" {
                    self.seed_teams_conversation(&channel, &ids, (&user, DEMO_NAME), now);
                }
                channels.push(channel);
            }
            teams.push(team);
        }
        (user, teams, channels)
    }

    /// Mentions and replies in a General channel (see [`super::DemoSeed::teams_channel_ids`]).
    fn seed_teams_conversation(&self, channel: &str, ids: &[String], me: (&str, &str), now: DateTime<Utc>) {
        let alice = (self.teams_colleague_id(ALICE_TEAMS), ALICE_TEAMS);
        let bob = (self.teams_colleague_id(BOB_TEAMS), BOB_TEAMS);
        let mention = |user: (&str, &str)| TeamsMention {
            id: 0,
            mention_text: user.1.to_owned(),
            user_id: user.0.to_owned(),
            user_name: user.1.to_owned(),
        };
        self.update_channel_message(channel, &ids[27], |m| {
            m.content = format!("<p><at id=\"0\">{}</at> can you check the roadmap dates?</p>", me.1);
            m.mentions = vec![mention(me)];
        });
        self.update_channel_message(channel, &ids[25], |m| {
            m.content = format!("<p><at id=\"0\">{}</at> see the notes above</p>", alice.1);
            m.mentions = vec![mention((&alice.0, alice.1))];
        });
        let at = now - Duration::minutes(150);
        self.add_channel_reply_at(channel, &ids[20], at, (&bob.0, bob.1), "<p>Agreed.</p>");
        self.add_channel_reply_at(channel, &ids[20], at + Duration::minutes(5), me, "<p>Done, thanks.</p>");
        self.add_channel_reply_at(channel, &ids[22], at, (&bob.0, bob.1), "<p>Looking into it.</p>");
    }

    /// The fake user of every OAuth server is the demo account's user, and its grants act as
    /// that account.
    pub(super) fn seed_oauth_users(&self) {
        let (asana_gid, google_sub, microsoft_id) = self.with(|s| {
            let asana = s.asana.accounts.iter().find(|a| a.token == ASANA_TOKEN).map(|a| a.user.gid.clone());
            let google = s.google.accounts.iter().find(|a| a.token == GOOGLE_TOKEN).map(|a| a.sub.clone());
            let graph = s.graph.accounts.iter().find(|a| a.token == MICROSOFT_TOKEN).map(|a| a.id.clone());
            (asana, google, graph)
        });
        let user = |id: Option<String>, p: OAuthProvider| OAuthUser {
            id: id.unwrap_or_else(|| self.oauth_user(p).id),
            name: DEMO_NAME.to_owned(),
            email: DEMO_EMAIL.to_owned(),
        };
        let demo = [
            (OAuthProvider::Google, google_sub, GOOGLE_TOKEN),
            (OAuthProvider::Microsoft, microsoft_id, MICROSOFT_TOKEN),
            (OAuthProvider::Slack, Some("U0FAKEALICE".to_owned()), SLACK_TOKEN),
            (OAuthProvider::Asana, asana_gid, ASANA_TOKEN),
            (OAuthProvider::Notion, None, NOTION_TOKEN),
        ];
        for (p, id, token) in demo {
            self.set_oauth_user(p, user(id, p));
            self.attach_oauth_account(p, token);
        }
    }
}

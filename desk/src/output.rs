//! Text the technician reads: tables, PINs, times, permission states.
//!
//! Contract: pure formatting, no IO and no clock. Nothing here prints a PIN unless it is
//! handed one explicitly ([`format_pin`]); [`session_details`] and [`session_table`] never
//! show it.

use sos_transport::api::{RemoteState, SessionView};

/// Groups a nine-digit PIN as `123 456 789` for reading aloud; anything else unchanged.
pub fn format_pin(pin: &str) -> String {
    if pin.len() == 9 && pin.bytes().all(|b| b.is_ascii_digit()) {
        format!("{} {} {}", &pin[..3], &pin[3..6], &pin[6..])
    } else {
        pin.to_string()
    }
}

/// Seconds since the Unix epoch as `YYYY-MM-DD HH:MM` (UTC).
pub fn format_time(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let seconds = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are range-limited by construction (1..=12, 1..=31).
    (year, month as u32, day as u32)
}

/// The permission state in words.
pub fn remote_text(remote: &RemoteState) -> &'static str {
    match remote {
        RemoteState::NotRequested => "not requested",
        RemoteState::Requested => "requested, waiting for the end user",
        RemoteState::Granted { control: true } => "granted (view and control)",
        RemoteState::Granted { control: false } => "granted (view only)",
        RemoteState::Denied => "denied by the end user",
    }
}

/// A table of sessions: id, status, machine, assignee, created. Columns are padded to the
/// widest cell; a missing value shows as `-`.
pub fn session_table(sessions: &[SessionView]) -> String {
    if sessions.is_empty() {
        return "No sessions.\n".to_string();
    }
    let header = ["ID", "STATUS", "MACHINE", "ASSIGNEE", "CREATED"].map(String::from);
    let rows: Vec<[String; 5]> = sessions
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                s.status.to_string(),
                s.machine_name.clone().unwrap_or_else(|| "-".into()),
                s.assignee.clone().unwrap_or_else(|| "-".into()),
                format_time(s.created_at),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One session as `Label: value` lines, without its PIN.
pub fn session_details(session: &SessionView) -> String {
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    let mut lines = vec![
        ("Session", session.id.clone()),
        ("Status", session.status.to_string()),
        ("Channel", session.channel.clone()),
        ("Assignee", or_dash(&session.assignee)),
        ("Machine", or_dash(&session.machine_name)),
        (
            "App",
            if session.reconnecting {
                "connection lost, the session waits for it to come back".to_string()
            } else if session.agent_online {
                "connected".to_string()
            } else {
                "not connected".to_string()
            },
        ),
        ("Remote", remote_text(&session.remote).to_string()),
        (
            "Created",
            format!("{} UTC", format_time(session.created_at)),
        ),
    ];
    if let Some(expires) = session.expires_at {
        lines.push(("Expires", format!("{} UTC", format_time(expires))));
    }
    lines.push(("Link", session.link.clone()));
    lines
        .into_iter()
        .map(|(label, value)| format!("{:<9}{value}\n", format!("{label}:")))
        .collect()
}

/// The answer to "new session": id, PIN grouped for reading aloud, link.
pub fn new_session_text(session: &SessionView) -> String {
    let mut out = format!("Session: {}\n", session.id);
    if let Some(pin) = &session.pin {
        out.push_str(&format!("PIN:     {}\n", format_pin(pin)));
    }
    out.push_str(&format!("Link:    {}\n", session.link));
    out
}

/// A session as pretty JSON, without its PIN unless `keep_pin`.
pub fn session_json(session: &SessionView, keep_pin: bool) -> String {
    let mut session = session.clone();
    if !keep_pin {
        session.pin = None;
    }
    // Serialising plain data with string keys cannot fail.
    serde_json::to_string_pretty(&session).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sos_transport::api::SessionStatus;

    fn session(id: &str, machine: Option<&str>, assignee: Option<&str>) -> SessionView {
        SessionView {
            id: id.into(),
            status: SessionStatus::InQueue,
            link: format!("https://gw/j/{id}"),
            pin: Some("123456789".into()),
            channel: "Support".into(),
            assignee: assignee.map(Into::into),
            invited: Vec::new(),
            private: false,
            machine_name: machine.map(Into::into),
            agent_online: false,
            reconnecting: false,
            remote: RemoteState::NotRequested,
            created_at: 1_700_000_000,
            expires_at: None,
            actions: Vec::new(),
        }
    }

    #[test]
    fn pins_are_grouped_in_threes() {
        assert_eq!(format_pin("123456789"), "123 456 789");
        assert_eq!(format_pin("12345"), "12345");
        assert_eq!(format_pin("12345678x"), "12345678x");
    }

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00");
        assert_eq!(format_time(-60), "1969-12-31 23:59");
    }

    #[test]
    fn table_columns_line_up() {
        let table = session_table(&[
            session("s1", Some("pc-accounting-01"), Some("ann@example.org")),
            session("session-2", None, None),
        ]);
        let expected = "\
ID         STATUS    MACHINE           ASSIGNEE         CREATED
s1         In queue  pc-accounting-01  ann@example.org  2023-11-14 22:13
session-2  In queue  -                 -                2023-11-14 22:13
";
        assert_eq!(table, expected);
        assert!(!table.contains("123"), "no PIN in the table");
    }

    #[test]
    fn empty_table_says_so() {
        assert_eq!(session_table(&[]), "No sessions.\n");
    }

    #[test]
    fn details_and_json_hide_the_pin_unless_asked() {
        let s = session("s1", None, None);
        assert!(!session_details(&s).contains("123"));
        assert!(session_details(&s).contains("Link:    https://gw/j/s1"));
        assert!(!session_json(&s, false).contains("123456789"));
        let json: serde_json::Value = serde_json::from_str(&session_json(&s, true)).unwrap();
        assert_eq!(json["pin"], "123456789");
        assert_eq!(json["status"], "in_queue");
        assert!(new_session_text(&s).contains("PIN:     123 456 789"));
    }
}

//! A private Xvfb server on a free display number, killed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tests of one binary run in parallel threads of one process, so they pick display
/// numbers from the same base: one at a time, or two would take the same display.
static STARTING: Mutex<()> = Mutex::new(());

/// A running Xvfb.
pub struct Xvfb {
    child: Child,
    /// Display name, e.g. `:42`.
    pub display: String,
    /// Screen width.
    pub width: u32,
    /// Screen height.
    pub height: u32,
}

impl Xvfb {
    /// Starts Xvfb with one screen of `width`x`height`x24 on a free display.
    pub fn start(width: u32, height: u32) -> Self {
        let xvfb = which("Xvfb").unwrap_or_else(|| {
            panic!("Xvfb is not installed: run `cargo xtask setup` (Debian package xvfb)")
        });
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let base = 90 + (std::process::id() % 400);
        for number in base..base + 200 {
            if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
                || Path::new(&format!("/tmp/.X{number}-lock")).exists()
            {
                continue;
            }
            let mut child = Command::new(&xvfb)
                .arg(format!(":{number}"))
                .args(["-screen", "0", &format!("{width}x{height}x24")])
                .args(["-noreset", "-nolisten", "tcp", "-ac"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start Xvfb");
            let socket = format!("/tmp/.X11-unix/X{number}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&socket).exists() {
                    return Self {
                        child,
                        display: format!(":{number}"),
                        width,
                        height,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start Xvfb on any display number");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Killed, Xvfb leaves its lock and socket behind; left there, they would use up the
        // display numbers runs pick from.
        let number = self.display.trim_start_matches(':');
        let _ = std::fs::remove_file(format!("/tmp/.X{number}-lock"));
        let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{number}"));
    }
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.exists())
    })
}

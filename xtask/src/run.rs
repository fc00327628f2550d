//! `cargo xtask run`: build the release binaries and run a local gateway in the foreground.
//!
//! Prints the exact commands of a whole support session (technician login, new session,
//! end-user app, permission request, headless view), then stays until Ctrl-C, which it
//! forwards to the gateway. `--demo` is in [`crate::demo`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::gateway::{self, Addresses, Technician};
use crate::proc::{Output, POLL, describe, describe_exit, run_step};
use crate::report::{self, display_path};
use crate::setup;
use crate::signals::{Shutdown, Signal};
use crate::workspace::Workspace;

/// How long the gateway gets to stop after the forwarded signal before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Options of `cargo xtask run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run the whole flow by itself and exit: Xvfb, gateway, technician, session,
    /// end-user app, consent, a 60-frame recording, close.
    #[arg(long)]
    pub demo: bool,

    /// Gateway data directory (database, certificate, first-technician.txt)
    /// [default: target/sosdesk-data].
    #[arg(long, value_name = "DIR", conflicts_with = "demo")]
    pub data: Option<PathBuf>,

    /// HTTPS address of the API, printed as `console:` (0.0.0.0:PORT to accept other machines).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8443",
        conflicts_with = "demo"
    )]
    pub listen: SocketAddr,

    /// QUIC address for the end-user app and viewers (0.0.0.0:PORT to accept other machines).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8444",
        conflicts_with = "demo"
    )]
    pub quic: SocketAddr,

    /// Do not check or install the system packages first.
    #[arg(long)]
    pub skip_setup: bool,
}

/// `cargo xtask run` without `--demo`.
pub fn run(workspace: &Workspace, args: &RunArgs, shutdown: &Shutdown) -> Result<()> {
    if !args.skip_setup {
        setup::run(workspace, shutdown)?;
    }
    build_release(workspace, shutdown)?;

    let addresses = Addresses {
        listen: args.listen,
        quic: args.quic,
    };
    addresses.check_free()?;
    let data = match &args.data {
        Some(dir) => std::path::absolute(dir)
            .with_context(|| format!("invalid --data directory {}", dir.display()))?,
        None => workspace.root.join("target").join("sosdesk-data"),
    };
    report::header(&format!(
        "starting the gateway (data in {})",
        display_path(&data)
    ));
    let mut gateway = gateway::start(
        &workspace.release_bin("sos-gateway"),
        &data,
        addresses,
        Output::Inherit,
        shutdown,
    )?;
    let technician = gateway::ensure_first_technician(
        &workspace.release_bin("sos-gateway"),
        &data,
        Output::Inherit,
        shutdown,
    )?;
    print_instructions(
        workspace,
        &addresses,
        &gateway.banner.cert_sha256,
        &technician,
    );

    // In the foreground until the gateway stops or we are asked to stop.
    loop {
        if let Some(status) = gateway.process.try_wait()? {
            if status.success() {
                println!("xtask: the gateway stopped");
                return Ok(());
            }
            bail!(
                "the gateway stopped unexpectedly ({}); see its messages above",
                describe_exit(status)
            );
        }
        if let Some(signal) = shutdown.take() {
            return stop_gateway(&mut gateway.process, signal, shutdown);
        }
        std::thread::sleep(POLL);
    }
}

/// Forwards `signal`; a second Ctrl-C or a timeout kills it.
fn stop_gateway(
    gateway: &mut crate::proc::Process,
    signal: Signal,
    shutdown: &Shutdown,
) -> Result<()> {
    println!();
    println!(
        "xtask: SIG{} received, stopping the gateway…",
        signal.name()
    );
    gateway.signal(signal)?;
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        if let Some(status) = gateway.try_wait()? {
            println!("xtask: gateway stopped ({})", describe_exit(status));
            return Ok(());
        }
        if let Some(again) = shutdown.take() {
            println!("xtask: SIG{} again, killing the gateway", again.name());
            break;
        }
        if Instant::now() >= deadline {
            println!(
                "xtask: the gateway did not stop within {}, killing it",
                report::duration(STOP_TIMEOUT)
            );
            break;
        }
        std::thread::sleep(POLL);
    }
    gateway.stop();
    Ok(())
}

/// `cargo build --release --locked` of the three binaries, with cargo's progress.
pub fn build_release(workspace: &Workspace, shutdown: &Shutdown) -> Result<()> {
    let mut cmd = workspace.cargo();
    cmd.args(["build", "--release", "--locked"]).args([
        "-p",
        "sos-gateway",
        "-p",
        "sos-desk",
        "-p",
        "sos",
    ]);
    report::header(&format!(
        "building the release binaries: {} (the first build takes several minutes)",
        describe(&cmd)
    ));
    let started = Instant::now();
    let status = run_step(&mut cmd, shutdown)?;
    if !status.success() {
        bail!(
            "the release build failed ({}); see cargo's errors above, fix them and rerun",
            describe_exit(status)
        );
    }
    report::note(&format!("built in {}", report::duration(started.elapsed())));
    Ok(())
}

/// A path to type in a shell: relative to the current directory when possible.
fn shell_path(path: &Path) -> String {
    quote(&display_path(path))
}

/// Single-quotes `text` for a POSIX shell when it needs it.
pub fn quote(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain && !text.is_empty() {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn print_instructions(
    workspace: &Workspace,
    addresses: &Addresses,
    cert_sha256: &str,
    technician: &Technician,
) {
    let desk = shell_path(&workspace.release_bin("sos-desk"));
    let sos = shell_path(&workspace.release_bin("sos"));
    let credentials = shell_path(&technician.credentials);
    let url = addresses.console_url();
    let quic = addresses.quic_address();
    let pin = quote(cert_sha256);

    report::header("sosdesk is running");
    println!("    HTTPS API    {url}   (console; self-signed certificate, pinned below)");
    println!("    QUIC         {quic}   (end-user app and viewers)");
    println!("    cert-sha256  {cert_sha256}");
    println!();
    println!("    technician   {}", technician.email);
    match &technician.new_password {
        Some(password) => println!(
            "    password     {password}   (shown once; saved in {credentials}, mode 0600)"
        ),
        None => println!("    password     in {credentials}"),
    }
    println!(
        "    web console  {url}/console   (sign in with this e-mail and password; the browser warns once about the self-signed certificate)"
    );
    println!();
    println!("Try a support session from another terminal:");
    println!();
    println!("  1. Log in as the technician:");
    println!(
        "       sed -n 's/^password: //p' {credentials} | {desk} login --gateway {url} --email {} --password-stdin --cert-sha256 {pin}",
        quote(&technician.email)
    );
    println!("  2. Create a support session (prints its id and the 9-digit PIN):");
    println!("       {desk} session new");
    println!("  3. Start the end-user app on this machine (in a third terminal, on an X display):");
    println!("       {sos} --gateway {quic} --pin <PIN> --cert-sha256 {pin}");
    println!(
        "  4. Ask the end user for permission (the app shows a permission window; with --consent terminal it asks in its terminal):"
    );
    println!("       {desk} session request <id>");
    println!(
        "  5. Watch and control the screen in a window (F12: status), or record 60 frames without one:"
    );
    println!("       {desk} view <id>");
    println!("       {desk} view <id> --headless --record out.h264 --frames 60");
    println!("       ffplay out.h264");
    println!("  6. Close the session:");
    println!("       {desk} session close <id>");
    if addresses.listen.ip().is_unspecified() || addresses.quic.ip().is_unspecified() {
        println!();
        println!(
            "  From another machine, use this machine's address instead of {} with the same --cert-sha256.",
            reachable_host(addresses)
        );
    }
    println!();
    println!("Press Ctrl-C to stop the gateway.");
    println!();
}

fn reachable_host(addresses: &Addresses) -> String {
    addresses
        .console_url()
        .trim_start_matches("https://")
        .rsplit_once(':')
        .map_or_else(String::new, |(host, _)| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_plain_words_alone() {
        assert_eq!(quote("target/release/sos-desk"), "target/release/sos-desk");
        assert_eq!(quote("tech@example.com"), "tech@example.com");
        assert_eq!(quote("my dir/it's"), r"'my dir/it'\''s'");
    }
}

//! The peer pipeline the bench compares with: ffmpeg grabbing the same X display, encoding
//! with libx264 `-preset ultrafast -tune zerolatency`, sending MPEG-TS to a second ffmpeg
//! that decodes to raw BGRA for the probe. (The VNC peer is in [`super::vnc`](mod@super::vnc).)
//!
//! The stream goes over TCP on loopback, not UDP: x264's keyframes (hundreds of KB in one
//! burst) overflow a default UDP receive buffer (208 KiB, `net.core.rmem_max`), the
//! decoder then waits for the next keyframe (8 s later) and shows damaged pictures; TCP
//! with TCP_NODELAY is lossless and adds no delay on loopback, like sosdesk's QUIC.
//!
//! Contract: both ffmpegs get the low-latency settings a careful user would pick (no
//! mouse pointer drawn, no muxing delay, no input buffering, one decoding thread), so the
//! comparison is with x264 at its fastest, not with ffmpeg's defaults.

use std::net::SocketAddr;
use std::process::Command;

/// The capturing and encoding ffmpeg: `display` at `size` (`WxH`), 30 frames per second,
/// to `target`, with x264's constant quality `crf`.
pub fn encoder_command(display: &str, size: &str, target: SocketAddr, crf: u8) -> Command {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-f", "x11grab", "-draw_mouse", "0", "-framerate", "30"])
        .args(["-video_size", size, "-i", display])
        .args(x264_args(crf))
        .args(["-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0"])
        .arg(format!("tcp://{target}?tcp_nodelay=1"));
    cmd
}

/// The x264 settings of both comparisons: ultrafast, zerolatency, constant quality `crf`,
/// 4:2:0 output.
pub fn x264_args(crf: u8) -> Vec<String> {
    [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-crf",
        &crf.to_string(),
        "-pix_fmt",
        "yuv420p",
    ]
    .map(String::from)
    .to_vec()
}

/// The decoding ffmpeg, listening on TCP `port`: low-delay flags, no probing beyond what it needs, one thread (frame
/// threads would add a frame of delay each), raw BGRA on its stdout.
pub fn decoder_command(port: u16) -> Command {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args([
            "-fflags",
            "nobuffer",
            "-flags",
            "low_delay",
            "-threads",
            "1",
        ])
        .args(["-probesize", "32768", "-analyzeduration", "0"])
        .args(["-f", "mpegts", "-i"])
        .arg(format!("tcp://127.0.0.1:{port}?listen=1&tcp_nodelay=1"))
        .args([
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgra",
            "pipe:1",
        ]);
    cmd
}

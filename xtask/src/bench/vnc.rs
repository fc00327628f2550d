//! The VNC peer: x11vnc serving the bench's X display, and the probe's RFB client.
//!
//! The client speaks RFB 3.8 with no authentication (x11vnc listens on loopback only, for
//! this run), asks for 32-bit BGRX pixels and the ZRLE, CopyRect and Raw encodings (ZRLE is
//! what TigerVNC and most viewers pick on a fast link: zlib-compressed tiles, lossless),
//! keeps a framebuffer, and hands it to the meter after every complete update, asking for
//! the next incremental update as soon as one has arrived (as VNC viewers do).
//!
//! Contract: every x11vnc it starts is stopped with the returned handle; a protocol error
//! ends the client with a message naming what was wrong, never a panic.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result, bail};
use flate2::{Decompress, FlushDecompress, Status};

/// ZRLE, CopyRect and Raw, in order of preference.
const ENCODINGS: [i32; 3] = [16, 1, 0];
const ZRLE: i32 = 16;
const COPY_RECT: i32 = 1;
const RAW: i32 = 0;
/// ZRLE tiles are 64x64 pixels.
const TILE: usize = 64;

/// x11vnc on `display`, on loopback `port`, with the settings a careful user picks for
/// speed: polling every 5 ms and no deferring of updates, no pixel cache (it would make the
/// framebuffer taller than the screen), no cursor shapes, no password (loopback only).
pub fn server_command(display: &str, port: u16) -> Command {
    let mut cmd = Command::new("x11vnc");
    cmd.args(["-display", display, "-rfbport", &port.to_string()])
        .args(["-localhost", "-nopw", "-shared", "-forever", "-quiet"])
        .args(["-noncache", "-nocursor", "-noxrecord", "-nowf", "-noscr"])
        .args(["-wait", "5", "-defer", "0"]);
    cmd
}

/// A two-way TCP relay for one connection that counts the bytes from the server to the
/// client (what the viewer receives).
pub struct CountingRelay {
    address: SocketAddr,
    received: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl CountingRelay {
    /// Listens on a free loopback port; the first connection is relayed to `upstream`.
    pub fn start(upstream: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("the bench's VNC relay could not bind a loopback port")?;
        let address = listener.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let accept = std::thread::Builder::new()
            .name("bench-vnc-relay".into())
            .spawn(move || {
                let Ok((client, _)) = listener.accept() else {
                    return;
                };
                let Ok(server) = TcpStream::connect(upstream) else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(client_in), Ok(server_out)) = (client.try_clone(), server.try_clone())
                else {
                    return;
                };
                let upward = std::thread::spawn(move || copy(client_in, server_out, None));
                copy(server, client, Some(&counter));
                let _ = upward.join();
            })?;
        Ok(Self {
            address,
            received,
            threads: vec![accept],
        })
    }

    /// Where the client connects to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Bytes from the server to the client so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

impl Drop for CountingRelay {
    fn drop(&mut self) {
        // Unblocks an accept that never got a client; a relay whose sides have closed ends.
        let _ = TcpStream::connect(self.address);
        for thread in self.threads.drain(..) {
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream, counter: Option<&AtomicU64>) {
    let mut buffer = vec![0_u8; 64 * 1024];
    while let Ok(length) = from.read(&mut buffer) {
        if length == 0 {
            break;
        }
        if let Some(counter) = counter {
            counter.fetch_add(length as u64, Ordering::Relaxed);
        }
        if to.write_all(&buffer[..length]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// An RFB client's view of the remote screen.
pub struct Client<S> {
    stream: S,
    /// Framebuffer width.
    pub width: u32,
    /// Framebuffer height.
    pub height: u32,
    /// BGRA pixels, `width * 4` bytes per row; alpha is always 255.
    pub bgra: Vec<u8>,
    zlib: Decompress,
    inflated: Vec<u8>,
}

impl<S: Read + Write> Client<S> {
    /// Shakes hands (RFB 3.8, no authentication, shared), asks for BGRX pixels and the
    /// encodings, and requests the whole screen.
    pub fn connect(mut stream: S) -> Result<Self> {
        let mut version = [0_u8; 12];
        stream
            .read_exact(&mut version)
            .context("the VNC server sent no protocol version")?;
        if !version.starts_with(b"RFB 003.") {
            bail!(
                "not a VNC server (it greeted with {:?})",
                String::from_utf8_lossy(&version)
            );
        }
        stream.write_all(b"RFB 003.008\n")?;
        let count = read_u8(&mut stream)?;
        if count == 0 {
            let reason = read_string(&mut stream)?;
            bail!("the VNC server refused the connection: {reason}");
        }
        let mut types = vec![0_u8; usize::from(count)];
        stream.read_exact(&mut types)?;
        if !types.contains(&1) {
            bail!(
                "the VNC server wants authentication (security types {types:?}); start it with -nopw"
            );
        }
        stream.write_all(&[1])?;
        if read_u32(&mut stream)? != 0 {
            let reason = read_string(&mut stream).unwrap_or_default();
            bail!("the VNC server refused the session: {reason}");
        }
        stream.write_all(&[1])?; // ClientInit: shared.
        let width = u32::from(read_u16(&mut stream)?);
        let height = u32::from(read_u16(&mut stream)?);
        let mut server_format = [0_u8; 16];
        stream.read_exact(&mut server_format)?;
        let _name = read_string(&mut stream)?;
        // SetPixelFormat: 32 bits per pixel, depth 24, little endian, true colour, 8 bits
        // per channel, red at 16, green at 8, blue at 0: B, G, R, X in memory.
        let mut set_format = vec![0_u8, 0, 0, 0];
        set_format.extend_from_slice(&[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
        stream.write_all(&set_format)?;
        let mut set_encodings = vec![2_u8, 0];
        set_encodings.extend_from_slice(&(ENCODINGS.len() as u16).to_be_bytes());
        for encoding in ENCODINGS {
            set_encodings.extend_from_slice(&encoding.to_be_bytes());
        }
        stream.write_all(&set_encodings)?;
        let mut client = Self {
            stream,
            width,
            height,
            bgra: vec![0; width as usize * height as usize * 4],
            zlib: Decompress::new(true),
            inflated: Vec::new(),
        };
        client.request(false)?;
        Ok(client)
    }

    fn request(&mut self, incremental: bool) -> Result<()> {
        let mut message = vec![3_u8, u8::from(incremental)];
        for value in [0, 0, self.width as u16, self.height as u16] {
            message.extend_from_slice(&value.to_be_bytes());
        }
        self.stream.write_all(&message)?;
        self.stream.flush()?;
        Ok(())
    }

    /// Reads server messages until a framebuffer update has been applied (asking for the
    /// next one first); returns the number of rectangles it carried.
    pub fn next_update(&mut self) -> Result<usize> {
        loop {
            match read_u8(&mut self.stream)? {
                0 => {
                    let _padding = read_u8(&mut self.stream)?;
                    let rectangles = usize::from(read_u16(&mut self.stream)?);
                    let mut rects = Vec::with_capacity(rectangles);
                    for _ in 0..rectangles {
                        rects.push(self.read_rect()?);
                    }
                    self.request(true)?;
                    for rect in rects {
                        self.apply(rect)?;
                    }
                    return Ok(rectangles);
                }
                1 => {
                    // SetColourMapEntries: not used with true colour, skipped.
                    let mut header = [0_u8; 5];
                    self.stream.read_exact(&mut header)?;
                    let colours = u16::from_be_bytes([header[3], header[4]]);
                    let mut skip = vec![0_u8; usize::from(colours) * 6];
                    self.stream.read_exact(&mut skip)?;
                }
                2 => {} // Bell.
                3 => {
                    let mut padding = [0_u8; 3];
                    self.stream.read_exact(&mut padding)?;
                    let _text = read_string(&mut self.stream)?;
                }
                other => bail!("unknown VNC server message type {other}"),
            }
        }
    }

    /// Reads one rectangle's header and payload (decompressing ZRLE data at once, since
    /// the zlib stream runs through the whole connection).
    fn read_rect(&mut self) -> Result<Rect> {
        let x = usize::from(read_u16(&mut self.stream)?);
        let y = usize::from(read_u16(&mut self.stream)?);
        let width = usize::from(read_u16(&mut self.stream)?);
        let height = usize::from(read_u16(&mut self.stream)?);
        let encoding = read_i32(&mut self.stream)?;
        if x + width > self.width as usize || y + height > self.height as usize {
            bail!(
                "the VNC server sent a rectangle {width}x{height} at {x},{y} outside its {}x{} screen",
                self.width,
                self.height
            );
        }
        let payload = match encoding {
            RAW => {
                let mut pixels = vec![0_u8; width * height * 4];
                self.stream.read_exact(&mut pixels)?;
                Payload::Raw(pixels)
            }
            COPY_RECT => {
                let source_x = usize::from(read_u16(&mut self.stream)?);
                let source_y = usize::from(read_u16(&mut self.stream)?);
                Payload::Copy(source_x, source_y)
            }
            ZRLE => {
                let length = read_u32(&mut self.stream)? as usize;
                let mut compressed = vec![0_u8; length];
                self.stream.read_exact(&mut compressed)?;
                Payload::Zrle(self.inflate(&compressed)?)
            }
            other => bail!("the VNC server used encoding {other}, which was not asked for"),
        };
        Ok(Rect {
            x,
            y,
            width,
            height,
            payload,
        })
    }

    fn inflate(&mut self, compressed: &[u8]) -> Result<Vec<u8>> {
        self.inflated.clear();
        let mut input = compressed;
        loop {
            self.inflated.reserve(256 * 1024);
            let before_in = self.zlib.total_in();
            let status = self
                .zlib
                .decompress_vec(input, &mut self.inflated, FlushDecompress::Sync)
                .context("the VNC server's ZRLE data does not inflate")?;
            let consumed = (self.zlib.total_in() - before_in) as usize;
            input = &input[consumed..];
            let room_left = self.inflated.capacity() > self.inflated.len();
            if input.is_empty() && room_left || status == Status::StreamEnd {
                break;
            }
        }
        Ok(std::mem::take(&mut self.inflated))
    }

    fn apply(&mut self, rect: Rect) -> Result<()> {
        let stride = self.width as usize * 4;
        match rect.payload {
            Payload::Raw(pixels) => {
                for row in 0..rect.height {
                    let from = &pixels[row * rect.width * 4..(row + 1) * rect.width * 4];
                    let start = (rect.y + row) * stride + rect.x * 4;
                    let to = &mut self.bgra[start..start + rect.width * 4];
                    to.copy_from_slice(from);
                    opaque(to);
                }
            }
            Payload::Copy(source_x, source_y) => {
                if source_x + rect.width > self.width as usize
                    || source_y + rect.height > self.height as usize
                {
                    bail!("the VNC server copied from outside its screen");
                }
                let copy = self.region(source_x, source_y, rect.width, rect.height);
                for (row, line) in copy.chunks_exact(rect.width * 4).enumerate() {
                    let start = (rect.y + row) * stride + rect.x * 4;
                    self.bgra[start..start + rect.width * 4].copy_from_slice(line);
                }
            }
            Payload::Zrle(data) => {
                let mut reader = Zrle { data: &data, at: 0 };
                for tile_y in (0..rect.height).step_by(TILE) {
                    for tile_x in (0..rect.width).step_by(TILE) {
                        let width = TILE.min(rect.width - tile_x);
                        let height = TILE.min(rect.height - tile_y);
                        let pixels = reader.tile(width, height)?;
                        for (row, line) in pixels.chunks_exact(width * 4).enumerate() {
                            let start = (rect.y + tile_y + row) * stride + (rect.x + tile_x) * 4;
                            self.bgra[start..start + width * 4].copy_from_slice(line);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn region(&self, x: usize, y: usize, width: usize, height: usize) -> Vec<u8> {
        let stride = self.width as usize * 4;
        let mut out = Vec::with_capacity(width * height * 4);
        for row in y..y + height {
            out.extend_from_slice(&self.bgra[row * stride + x * 4..row * stride + (x + width) * 4]);
        }
        out
    }
}

struct Rect {
    x: usize,
    y: usize,
    width: usize,
    height: usize,
    payload: Payload,
}

enum Payload {
    Raw(Vec<u8>),
    Copy(usize, usize),
    Zrle(Vec<u8>),
}

/// The inflated ZRLE data of one rectangle, read tile by tile.
struct Zrle<'a> {
    data: &'a [u8],
    at: usize,
}

impl Zrle<'_> {
    fn byte(&mut self) -> Result<u8> {
        let byte = *self
            .data
            .get(self.at)
            .context("the VNC server's ZRLE tile ends early")?;
        self.at += 1;
        Ok(byte)
    }

    /// A compressed pixel: three bytes (B, G, R) for 32-bit pixels of depth 24.
    fn pixel(&mut self) -> Result<[u8; 4]> {
        Ok([self.byte()?, self.byte()?, self.byte()?, 255])
    }

    fn run(&mut self) -> Result<usize> {
        let mut length = 1;
        loop {
            let byte = self.byte()?;
            length += usize::from(byte);
            if byte != 255 {
                return Ok(length);
            }
        }
    }

    /// One tile as BGRA rows.
    fn tile(&mut self, width: usize, height: usize) -> Result<Vec<u8>> {
        let count = width * height;
        let mut out = Vec::with_capacity(count * 4);
        let subencoding = self.byte()?;
        match subencoding {
            0 => {
                for _ in 0..count {
                    out.extend_from_slice(&self.pixel()?);
                }
            }
            1 => {
                let pixel = self.pixel()?;
                for _ in 0..count {
                    out.extend_from_slice(&pixel);
                }
            }
            2..=16 => {
                let palette = (0..subencoding)
                    .map(|_| self.pixel())
                    .collect::<Result<Vec<_>>>()?;
                let bits = match subencoding {
                    2 => 1,
                    3..=4 => 2,
                    _ => 4,
                };
                for _ in 0..height {
                    let mut byte = 0_u8;
                    let mut left = 0;
                    for _ in 0..width {
                        if left == 0 {
                            byte = self.byte()?;
                            left = 8;
                        }
                        left -= bits;
                        let index = usize::from((byte >> left) & ((1 << bits) - 1));
                        let pixel = palette
                            .get(index)
                            .context("a ZRLE palette index is outside its palette")?;
                        out.extend_from_slice(pixel);
                    }
                }
            }
            128 => {
                while out.len() < count * 4 {
                    let pixel = self.pixel()?;
                    for _ in 0..self.run()? {
                        out.extend_from_slice(&pixel);
                    }
                }
            }
            130..=255 => {
                let palette = (0..subencoding - 128)
                    .map(|_| self.pixel())
                    .collect::<Result<Vec<_>>>()?;
                while out.len() < count * 4 {
                    let index = self.byte()?;
                    let pixel = *palette
                        .get(usize::from(index & 0x7f))
                        .context("a ZRLE palette index is outside its palette")?;
                    let run = if index & 0x80 != 0 { self.run()? } else { 1 };
                    for _ in 0..run {
                        out.extend_from_slice(&pixel);
                    }
                }
            }
            other => bail!("unknown ZRLE subencoding {other}"),
        }
        if out.len() != count * 4 {
            bail!("a ZRLE run goes past the end of its tile");
        }
        Ok(out)
    }
}

fn opaque(row: &mut [u8]) {
    for pixel in row.chunks_exact_mut(4) {
        pixel[3] = 255;
    }
}

fn read_u8(stream: &mut impl Read) -> io::Result<u8> {
    let mut byte = [0_u8; 1];
    stream.read_exact(&mut byte)?;
    Ok(byte[0])
}

fn read_u16(stream: &mut impl Read) -> io::Result<u16> {
    let mut bytes = [0_u8; 2];
    stream.read_exact(&mut bytes)?;
    Ok(u16::from_be_bytes(bytes))
}

fn read_u32(stream: &mut impl Read) -> io::Result<u32> {
    let mut bytes = [0_u8; 4];
    stream.read_exact(&mut bytes)?;
    Ok(u32::from_be_bytes(bytes))
}

fn read_i32(stream: &mut impl Read) -> io::Result<i32> {
    let mut bytes = [0_u8; 4];
    stream.read_exact(&mut bytes)?;
    Ok(i32::from_be_bytes(bytes))
}

fn read_string(stream: &mut impl Read) -> Result<String> {
    let length = read_u32(stream)? as usize;
    if length > 1 << 20 {
        bail!("the VNC server sent a {length}-byte string");
    }
    let mut text = vec![0_u8; length];
    stream.read_exact(&mut text)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// A scripted server: what it will send, and what the client wrote.
    struct Script {
        incoming: io::Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.incoming.read(buf)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn handshake(width: u16, height: u16) -> Vec<u8> {
        let mut out = b"RFB 003.008\n".to_vec();
        out.extend_from_slice(&[1, 1]); // one security type: None
        out.extend_from_slice(&0_u32.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&4_u32.to_be_bytes());
        out.extend_from_slice(b"test");
        out
    }

    fn rect_header(out: &mut Vec<u8>, x: u16, y: u16, w: u16, h: u16, encoding: i32) {
        for value in [x, y, w, h] {
            out.extend_from_slice(&value.to_be_bytes());
        }
        out.extend_from_slice(&encoding.to_be_bytes());
    }

    fn pixel_at(client: &Client<Script>, x: usize, y: usize) -> [u8; 4] {
        let at = (y * client.width as usize + x) * 4;
        client.bgra[at..at + 4].try_into().unwrap()
    }

    #[test]
    fn updates_in_raw_zrle_and_copyrect_land_in_the_framebuffer() {
        let mut server = handshake(80, 4);
        // Update 1: a raw 2x1 rectangle at 0,0, and a ZRLE rectangle 80x4 at 0,0 made of a
        // solid tile (64x4, blue) and a palette-RLE tile (16x4: a run of 60 red, 4 green).
        server.extend_from_slice(&[0, 0, 0, 2]);
        rect_header(&mut server, 70, 0, 2, 1, RAW);
        server.extend_from_slice(&[1, 2, 3, 0, 4, 5, 6, 0]);
        let mut tiles = vec![1_u8, 255, 0, 0];
        tiles.extend_from_slice(&[130, 0, 0, 255, 0, 255, 0]);
        tiles.extend_from_slice(&[0x80, 59, 0x81, 3]);
        let mut zlib = Compress::new(Compression::default(), true);
        let mut compressed = Vec::with_capacity(1024);
        zlib.compress_vec(&tiles, &mut compressed, FlushCompress::Sync)
            .unwrap();
        let mut zrle = Vec::new();
        rect_header(&mut zrle, 0, 0, 80, 4, ZRLE);
        zrle.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
        zrle.extend_from_slice(&compressed);
        // The raw rectangle is applied first, then overwritten by the ZRLE one except
        // where the test looks after the copy.
        server.extend_from_slice(&zrle);
        // Update 2: copy the 2x2 at 64,0 (red) to 0,2.
        server.extend_from_slice(&[0, 0, 0, 1]);
        rect_header(&mut server, 0, 2, 2, 2, COPY_RECT);
        server.extend_from_slice(&64_u16.to_be_bytes());
        server.extend_from_slice(&0_u16.to_be_bytes());
        let script = Script {
            incoming: io::Cursor::new(server),
            written: Vec::new(),
        };
        let mut client = Client::connect(script).unwrap();
        assert_eq!((client.width, client.height), (80, 4));
        assert_eq!(client.next_update().unwrap(), 2);
        assert_eq!(pixel_at(&client, 0, 0), [255, 0, 0, 255]);
        assert_eq!(pixel_at(&client, 63, 3), [255, 0, 0, 255]);
        // Palette-RLE tile: 60 red (0,0,255) then 4 green (0,255,0), row-major in 16x4.
        assert_eq!(pixel_at(&client, 64, 0), [0, 0, 255, 255]);
        assert_eq!(pixel_at(&client, 75, 3), [0, 0, 255, 255]);
        assert_eq!(pixel_at(&client, 76, 3), [0, 255, 0, 255]);
        assert_eq!(client.next_update().unwrap(), 1);
        assert_eq!(pixel_at(&client, 0, 2), [0, 0, 255, 255]);
        assert_eq!(pixel_at(&client, 1, 3), [0, 0, 255, 255]);
        assert_eq!(pixel_at(&client, 2, 2), [255, 0, 0, 255]);
        // The client asked for BGRX, the three encodings, a full then incremental updates.
        let written = &client.stream.written;
        assert_eq!(&written[..12], b"RFB 003.008\n");
        let requests = written.windows(2).filter(|pair| pair == &[3, 1]).count();
        assert_eq!(requests, 2, "one incremental request per update");
    }

    #[test]
    fn a_server_that_wants_a_password_is_refused_with_the_fix() {
        let mut server = b"RFB 003.008\n".to_vec();
        server.extend_from_slice(&[1, 2]);
        let script = Script {
            incoming: io::Cursor::new(server),
            written: Vec::new(),
        };
        let error = Client::connect(script).err().unwrap().to_string();
        assert!(error.contains("-nopw"), "{error}");
    }
}

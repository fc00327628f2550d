//! Length-prefixed framing of wire messages.
//!
//! A message is a 4-byte big-endian length followed by that many bytes of postcard. The
//! pure [`encode`]/[`decode`] pair does the byte work; the async helpers only move bytes.
//! Lengths above the caller's bound are refused before anything is allocated.

use crate::wire::FrameHeader;
use crate::{MAX_CONTROL_MESSAGE, MAX_FRAME_BYTES};
use serde::{Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Failures reading or writing wire messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The peer announced a message larger than allowed.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Allowed maximum.
        max: usize,
    },
    /// The bytes are not a valid message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The stream ended in the middle of a message.
    #[error("stream ended in the middle of a message")]
    Truncated,
    /// The underlying stream failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
}

impl PartialEq for WireError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::TooLarge { len: a, max: b }, Self::TooLarge { len: c, max: d }) => {
                a == c && b == d
            }
            (Self::Malformed(a), Self::Malformed(b)) => a == b,
            (Self::Truncated, Self::Truncated) => true,
            (Self::Io(a), Self::Io(b)) => a.kind() == b.kind(),
            _ => false,
        }
    }
}

/// Encodes a message with its length prefix.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, WireError> {
    let body = postcard::to_stdvec(message).map_err(|e| WireError::Malformed(e.to_string()))?;
    let len = u32::try_from(body.len()).map_err(|_| WireError::TooLarge {
        len: body.len(),
        max: u32::MAX as usize,
    })?;
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes one length-prefixed message from the front of `bytes`.
///
/// Returns the message and the number of bytes used, or `Ok(None)` when more bytes are
/// needed. Trailing bytes inside the announced length are an error.
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    max: usize,
) -> Result<Option<(T, usize)>, WireError> {
    let Some(prefix) = bytes.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len > max {
        return Err(WireError::TooLarge { len, max });
    }
    let Some(body) = bytes.get(4..4 + len) else {
        return Ok(None);
    };
    Ok(Some((decode_body(body)?, 4 + len)))
}

fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let (value, rest) =
        postcard::take_from_bytes(body).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} unexpected trailing bytes",
            rest.len()
        )));
    }
    Ok(value)
}

/// Writes one message.
pub async fn write_message<W, T>(writer: &mut W, message: &T) -> Result<(), WireError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    writer.write_all(&encode(message)?).await?;
    Ok(())
}

/// Reads one control message (at most [`MAX_CONTROL_MESSAGE`] bytes).
///
/// `Ok(None)` means the peer finished the stream cleanly between messages.
pub async fn read_message<R, T>(reader: &mut R) -> Result<Option<T>, WireError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    read_bounded(reader, MAX_CONTROL_MESSAGE).await
}

async fn read_bounded<R, T>(reader: &mut R, max: usize) -> Result<Option<T>, WireError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let mut prefix = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(WireError::Truncated)
            };
        }
        filled += n;
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(WireError::TooLarge { len, max });
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            WireError::Truncated
        } else {
            WireError::Io(e)
        }
    })?;
    decode_body(&body).map(Some)
}

/// Writes one video frame (header then payload) to a stream of its own and finishes it.
pub async fn write_frame<W>(
    writer: &mut W,
    header: &FrameHeader,
    payload: &[u8],
) -> Result<(), WireError>
where
    W: AsyncWrite + Unpin,
{
    writer.write_all(&encode(header)?).await?;
    writer.write_all(payload).await?;
    writer.shutdown().await?;
    Ok(())
}

/// Reads one whole video frame stream: its header and the payload up to the stream's end
/// (at most [`MAX_FRAME_BYTES`]).
pub async fn read_frame<R>(reader: &mut R) -> Result<(FrameHeader, Vec<u8>), WireError>
where
    R: AsyncRead + Unpin,
{
    let header: FrameHeader = read_bounded(reader, 256)
        .await?
        .ok_or(WireError::Truncated)?;
    let mut payload = Vec::new();
    let limit = MAX_FRAME_BYTES as u64 + 1;
    reader.take(limit).read_to_end(&mut payload).await?;
    if payload.len() > MAX_FRAME_BYTES {
        return Err(WireError::TooLarge {
            len: payload.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::{Pin, Secret};
    use crate::wire::*;

    fn samples() -> Vec<Hello> {
        vec![
            Hello::Agent(AgentHello {
                pin: Pin::parse("123456789").unwrap(),
                machine_name: "pc-01".into(),
                os: "Linux".into(),
                version: "0.1.0".into(),
                displays: vec![DisplayInfo {
                    index: 0,
                    width: 1920,
                    height: 1080,
                    primary: true,
                }],
                monitors: vec![MonitorInfo {
                    index: 1,
                    x: 1920,
                    y: -20,
                    width: 1280,
                    height: 1024,
                    primary: false,
                }],
                link: Some(Secret::new("AbCdEfGhIjKlMnOpQrStUv".into())),
                resume: Some(Resume {
                    ticket: Secret::new("ab".repeat(32)),
                    keep_consent: true,
                }),
            }),
            Hello::Viewer(ViewerHello {
                token: Secret::new("t".repeat(40)),
                session_id: "abc".into(),
                purpose: ViewerPurpose::Watch,
            }),
        ]
    }

    #[test]
    fn messages_round_trip() {
        for hello in samples() {
            let bytes = encode(&hello).unwrap();
            let (back, used): (Hello, usize) =
                decode(&bytes, MAX_CONTROL_MESSAGE).unwrap().unwrap();
            assert_eq!(back, hello);
            assert_eq!(used, bytes.len());
        }
        let events = vec![
            ToAgent::Input {
                viewer: 3,
                seq: 9,
                event: InputEvent::Text("héllo 日本".into()),
            },
            ToAgent::ConsentRequest {
                request_id: 1,
                technician: "Ann".into(),
                organisation: "Org".into(),
                control: true,
            },
            ToAgent::End(EndReason::ClosedByTechnician),
            ToAgent::Input {
                viewer: 1,
                seq: 10,
                event: InputEvent::KeyStroke {
                    code: "KeyC".into(),
                    text: "c".into(),
                    press: Press::Down,
                },
            },
            ToAgent::Input {
                viewer: 1,
                seq: 11,
                event: InputEvent::MouseMoveOn {
                    monitor: 1,
                    x: 5,
                    y: 6,
                },
            },
            ToAgent::ViewerLeft { viewer: 1 },
        ];
        for event in events {
            let bytes = encode(&event).unwrap();
            let (back, _): (ToAgent, usize) = decode(&bytes, MAX_CONTROL_MESSAGE).unwrap().unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn partial_input_asks_for_more() {
        let bytes = encode(&ToAgent::StartStream).unwrap();
        for cut in 0..bytes.len() {
            let got: Option<(ToAgent, usize)> = decode(&bytes[..cut], MAX_CONTROL_MESSAGE).unwrap();
            assert!(got.is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn oversized_length_is_refused_before_allocating() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0];
        let got = decode::<ToAgent>(&bytes, MAX_CONTROL_MESSAGE);
        assert_eq!(
            got.unwrap_err(),
            WireError::TooLarge {
                len: u32::MAX as usize,
                max: MAX_CONTROL_MESSAGE
            }
        );
    }

    #[test]
    fn a_bad_pin_in_a_hello_is_malformed() {
        let mut bytes = encode(&samples()[0]).unwrap();
        // The PIN's digits follow the variant tag and the string length.
        let digit = bytes.iter().position(|&b| b == b'1').unwrap();
        bytes[digit] = b'x';
        assert!(matches!(
            decode::<Hello>(&bytes, MAX_CONTROL_MESSAGE),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small deterministic generator: the decoder must return, not panic.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let len = (state % 40) as usize;
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push(state as u8);
            }
            if bytes.len() >= 4 {
                let body = (bytes.len() - 4) as u32;
                bytes[..4].copy_from_slice(&body.to_be_bytes());
            }
            let _ = decode::<Hello>(&bytes, MAX_CONTROL_MESSAGE);
            let _ = decode::<ToAgent>(&bytes, MAX_CONTROL_MESSAGE);
            let _ = decode::<FromViewer>(&bytes, MAX_CONTROL_MESSAGE);
        }
    }

    #[tokio::test]
    async fn frames_and_messages_cross_a_stream() {
        let (mut a, mut b) = tokio::io::duplex(1 << 20);
        let header = FrameHeader {
            seq: 7,
            keyframe: true,
            width: 64,
            height: 32,
            capture_micros: 1,
        };
        let payload = vec![0, 0, 0, 1, 0x65, 1, 2, 3];
        let writer = tokio::spawn(async move {
            write_message(&mut a, &FromViewer::KeyframeRequest)
                .await
                .unwrap();
            write_frame(&mut a, &header, &payload).await.unwrap();
        });
        let first: FromViewer = read_message(&mut b).await.unwrap().unwrap();
        assert_eq!(first, FromViewer::KeyframeRequest);
        let (h, p) = read_frame(&mut b).await.unwrap();
        writer.await.unwrap();
        assert_eq!(h, header);
        assert_eq!(p, vec![0, 0, 0, 1, 0x65, 1, 2, 3]);
    }

    #[tokio::test]
    async fn truncated_stream_is_reported() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let bytes = encode(&ToAgent::StartStream).unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            a.write_all(&bytes[..bytes.len() - 1]).await.unwrap();
            a.shutdown().await.unwrap();
        });
        let got = read_message::<_, ToAgent>(&mut b).await;
        assert_eq!(got.unwrap_err(), WireError::Truncated);
    }
}

//! One technician's QUIC connection: authentication, the video it watches and the input it
//! sends. The session rules are in [`super::attach`], shared with the browser viewer.

use super::attach::attach;
use super::{pump, refuse};
use crate::service::Desk;
use sos_transport::framing::{read_message, write_frame};
use sos_transport::wire::{FromViewer, Refusal, ToViewer, ViewerHello, ViewerPurpose};
use std::sync::Arc;

pub(super) async fn serve(
    desk: Arc<Desk>,
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    hello: ViewerHello,
) -> anyhow::Result<()> {
    let attached = desk
        .authenticate(hello.token.expose())
        .map_err(|_| Refusal::Unauthorized)
        .and_then(|user| attach(&desk, &user, &hello.session_id, hello.purpose));
    let (viewer, rx) = match attached {
        Ok(attached) => attached,
        Err(refusal) => {
            return refuse(
                &connection,
                &mut send,
                &ToViewer::Refused(refusal),
                tokio::time::Instant::now(),
            )
            .await;
        }
    };
    tokio::spawn(pump(connection.clone(), send, rx, |m| {
        matches!(m, ToViewer::End(_))
    }));
    if hello.purpose == ViewerPurpose::Watch {
        let connection = connection.clone();
        let slot = viewer.slot();
        let desk = desk.clone();
        tokio::spawn(async move {
            while let Some(frame) = slot.next().await {
                let Ok(mut stream) = connection.open_uni().await else {
                    return;
                };
                if write_frame(&mut stream, &frame.header, &frame.payload)
                    .await
                    .is_err()
                {
                    return;
                }
                desk.count_relayed(frame.payload.len());
            }
        });
    }

    loop {
        let message: FromViewer = match read_message(&mut recv).await {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => break,
        };
        viewer.handle(message);
    }
    // Detaching closes the slot, which ends the frame task.
    drop(viewer);
    Ok(())
}

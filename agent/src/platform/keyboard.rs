//! Keeping keyboard injection right while the end user's layouts change under it.
//!
//! enigo reads the keyboard mapping once and presses the key that has a character in the
//! first layout group. Two things can make that wrong: the mapping changes (the end user
//! picks another layout: `setxkbmap`, a settings panel), and another group is active (a
//! layout switcher with two layouts). [`KeyboardWatch::mapping_changed`] tells when the
//! mapping was changed by someone else, so the injector can be reopened on the new one;
//! [`KeyboardWatch::in_first_group`] makes the first group active around one injection and
//! puts the end user's group back afterwards.
//!
//! Contract: never changes the mapping itself; the group is changed only for the duration of
//! one injected keyboard action and always restored.

use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xkb::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ConnectionExt as _, Mapping};
use x11rb::rust_connection::RustConnection;

/// Watches the keyboard mapping and the active group of `$DISPLAY`.
pub struct KeyboardWatch {
    /// Receives MappingNotify (sent to every client); never initialises XKB, so that core
    /// notifications keep coming.
    mapping: RustConnection,
    /// The mapping of every key the injector does not remap itself (its spare keycodes,
    /// unmapped when it opened, read as empty), to tell a new layout from its own changes.
    layout: Vec<u32>,
    /// Keycodes that had no keysym when the injector opened: the ones it may remap itself.
    spare: Vec<u8>,
    /// An XKB connection for the group, when the server has XKB.
    xkb: Option<RustConnection>,
}

impl std::fmt::Debug for KeyboardWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyboardWatch")
            .field("keys", &self.layout.len())
            .field("spare", &self.spare.len())
            .field("xkb", &self.xkb.is_some())
            .finish()
    }
}

impl KeyboardWatch {
    /// Connects to `$DISPLAY`; call right before opening the injector.
    pub fn open() -> Result<Self, String> {
        let (mapping, _) = x11rb::connect(None).map_err(|e| e.to_string())?;
        let xkb = x11rb::connect(None).ok().and_then(|(conn, _)| {
            let reply = conn.xkb_use_extension(1, 0).ok()?.reply().ok()?;
            reply.supported.then_some(conn)
        });
        let mut watch = Self {
            mapping,
            layout: Vec::new(),
            spare: Vec::new(),
            xkb,
        };
        watch.rescan()?;
        Ok(watch)
    }

    /// Whether the keyboard mapping was changed by someone other than the injector since
    /// the last call. When it was, reopen the injector and call [`KeyboardWatch::rescan`].
    pub fn mapping_changed(&mut self) -> bool {
        let mut notified = false;
        while let Ok(Some(event)) = self.mapping.poll_for_event() {
            if let Event::MappingNotify(e) = event {
                notified |= e.request == Mapping::KEYBOARD;
            }
        }
        // The injector's own remapping of a spare key notifies too (and the server may
        // announce the whole range): only a change elsewhere is a new layout.
        notified
            && match self.read() {
                Ok((per, keysyms)) => self.without_spare(per, keysyms) != self.layout,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the keyboard mapping");
                    false
                }
            }
    }

    /// Reads the mapping again: the spare keycodes and the layout (after the injector was
    /// reopened on it).
    pub fn rescan(&mut self) -> Result<(), String> {
        // Notifications caused by the old injector giving its keycodes back are not news.
        while let Ok(Some(_)) = self.mapping.poll_for_event() {}
        let (per, keysyms) = self.read()?;
        let (min, max) = self.keycodes();
        self.spare = keysyms
            .chunks(per)
            .zip(min..=max)
            .filter(|(syms, _)| syms.iter().all(|s| *s == 0))
            .map(|(_, keycode)| keycode)
            .collect();
        self.layout = self.without_spare(per, keysyms);
        Ok(())
    }

    /// Runs `inject` with the first layout group active, then restores the end user's.
    pub fn in_first_group<T>(&self, inject: impl FnOnce() -> T) -> T {
        let core = xkb::ID::USE_CORE_KBD.into();
        let Some(conn) = &self.xkb else {
            return inject();
        };
        let state = conn
            .xkb_get_state(core)
            .ok()
            .and_then(|cookie| cookie.reply().ok());
        let Some(state) = state.filter(|s| u8::from(s.group) != 0) else {
            return inject();
        };
        // Each lock is waited for, so the injected events (on another connection, synced
        // by the injector) fall strictly between the two.
        let lock = |group: u8| {
            let none = 0u8.into();
            let checked = conn
                .xkb_latch_lock_state(core, none, none, true, group.into(), none, false, 0)
                .map_err(|e| e.to_string())
                .and_then(|cookie| cookie.check().map_err(|e| e.to_string()));
            if let Err(error) = checked {
                tracing::warn!(%error, group, "cannot switch the keyboard group");
            }
        };
        lock(0);
        let result = inject();
        lock(u8::from(state.locked_group));
        result
    }

    fn keycodes(&self) -> (u8, u8) {
        let setup = self.mapping.setup();
        (setup.min_keycode, setup.max_keycode)
    }

    /// Keysyms per keycode and the keysyms of every keycode.
    fn read(&self) -> Result<(usize, Vec<u32>), String> {
        let (min, max) = self.keycodes();
        let reply = self
            .mapping
            .get_keyboard_mapping(min, max.saturating_sub(min).saturating_add(1))
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?;
        Ok((usize::from(reply.keysyms_per_keycode).max(1), reply.keysyms))
    }

    /// `keysyms` (`per` to a keycode) with the spare keycodes read as empty.
    fn without_spare(&self, per: usize, mut keysyms: Vec<u32>) -> Vec<u32> {
        let (min, _) = self.keycodes();
        for keycode in &self.spare {
            let start = usize::from(keycode.saturating_sub(min)) * per;
            if let Some(syms) = keysyms.get_mut(start..start + per) {
                syms.fill(0);
            }
        }
        keysyms
    }
}

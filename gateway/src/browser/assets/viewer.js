// sosdesk browser viewer: connects to the gateway (WebTransport first, WebSocket as the
// fallback), decodes the end user's H.264 screen with WebCodecs onto a canvas, and sends
// the technician's mouse and keyboard while the canvas has them.
//
// Protocol: see gateway/src/browser/protocol.rs. Input rules, as in the native viewer:
// every key and button sent down is sent up, on release or all at once when the canvas
// loses focus or the page is hidden; keys travel by physical code with the text they typed
// (the agent reproduces shortcuts and text whatever the two keyboard layouts); F8 (next
// monitor), F9 (take control) and F10 (fit / 1:1) stay in the viewer.
'use strict';

(() => {
  const HEADER_LEN = 26;
  const WEBTRANSPORT_TIMEOUT_MS = 4000;
  const PING_EVERY_MS = 2000;
  const MAX_DECODE_QUEUE = 4;
  const WHEEL_PIXELS_PER_STEP = 100;

  const $ = (id) => document.getElementById(id);
  const canvas = $('screen');
  const stage = $('stage');
  const notice = $('notice');
  const sessionId = decodeURIComponent(location.pathname.split('/')[3] || '');
  const forced = new URLSearchParams(location.search).get('transport');

  // Everything worth knowing, for the toolbar, and for tests and the curious.
  const state = {
    phase: 'connecting', // connecting | watching | ended
    transport: null, // 'webtransport' | 'websocket'
    fallbackReason: null,
    control: false,
    display: null,
    monitors: [],
    participants: [],
    fit: true,
    ended: null,
    away: false,
    lastInputResult: null,
    stats: {
      framesReceived: 0,
      framesDecoded: 0,
      keyframes: 0,
      dropped: 0,
      fps: 0,
      latencyMs: null,
      rttMs: null,
      clockOffsetMs: 0,
      latencies: [],
    },
  };
  window.sosViewer = state;

  function show(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)sosdesk_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : '';
  }

  async function fetchTicket() {
    const response = await fetch(
      `/api/v1/sessions/${encodeURIComponent(sessionId)}/viewer-ticket`,
      { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken() } },
    );
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(body.error || `the gateway answered ${response.status}`);
    }
    return body;
  }

  // ---- transports: both call handlers.control(message), handlers.frame(bytes),
  // handlers.closed(why); both resolve once the gateway answered the ticket.

  function hexBytes(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function concat(a, b) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }

  async function readAll(stream) {
    const reader = stream.getReader();
    const chunks = [];
    let length = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
    const out = new Uint8Array(length);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  function firstAnswer(link, handlers, timeoutMs) {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = timeoutMs
        ? setTimeout(() => {
          if (!settled) {
            settled = true;
            reject(new Error('no answer in time'));
          }
        }, timeoutMs)
        : null;
      link.handlers = {
        control(message) {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            link.handlers = handlers;
            resolve(link);
          }
          handlers.control(message);
        },
        frame: (bytes) => handlers.frame(bytes),
        closed(why) {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(new Error(why));
          } else {
            handlers.closed(why);
          }
        },
      };
    });
  }

  async function connectWebTransport(ticket, handlers) {
    const offer = ticket.webtransport;
    if (!offer) throw new Error('the gateway offers no WebTransport');
    if (typeof WebTransport === 'undefined') throw new Error('this browser has no WebTransport');
    const url = `https://${location.hostname}:${offer.port}${offer.path}`;
    const transport = new WebTransport(url, {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: hexBytes(offer.cert_sha256) }],
    });
    const link = { kind: 'webtransport', handlers: null };
    const answered = firstAnswer(link, handlers, WEBTRANSPORT_TIMEOUT_MS);
    let ready = false;
    transport.closed
      .then(() => link.handlers.closed('the connection closed'))
      .catch((e) => link.handlers.closed(ready ? `the connection broke: ${e.message || e}` : `WebTransport failed: ${e.message || e}`));
    await Promise.race([
      transport.ready,
      new Promise((_, reject) => setTimeout(() => reject(new Error('WebTransport did not connect in time')), WEBTRANSPORT_TIMEOUT_MS)),
    ]).catch((e) => {
      try { transport.close(); } catch (_) { /* already gone */ }
      throw e;
    });
    ready = true;
    const control = await transport.createBidirectionalStream();
    const writer = control.writable.getWriter();
    const encoder = new TextEncoder();
    link.send = (message) => {
      const body = encoder.encode(JSON.stringify(message));
      const bytes = new Uint8Array(4 + body.length);
      new DataView(bytes.buffer).setUint32(0, body.length);
      bytes.set(body, 4);
      writer.write(bytes).catch(() => {});
    };
    link.close = () => { try { transport.close(); } catch (_) { /* already gone */ } };
    (async () => {
      const reader = control.readable.getReader();
      const decoder = new TextDecoder();
      let pending = new Uint8Array(0);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        pending = concat(pending, value);
        while (pending.length >= 4) {
          const length = new DataView(pending.buffer, pending.byteOffset).getUint32(0);
          if (pending.length < 4 + length) break;
          link.handlers.control(JSON.parse(decoder.decode(pending.subarray(4, 4 + length))));
          pending = pending.slice(4 + length);
        }
      }
    })().catch(() => {});
    (async () => {
      // One stream per frame, read in the order the gateway opened them: the decoder
      // needs the frames in order.
      const streams = transport.incomingUnidirectionalStreams.getReader();
      for (;;) {
        const { value, done } = await streams.read();
        if (done) return;
        link.handlers.frame(await readAll(value));
      }
    })().catch(() => {});
    link.send({ type: 'ticket', ticket: ticket.ticket });
    return answered;
  }

  function connectWebSocket(ticket, handlers) {
    const socket = new WebSocket(`wss://${location.host}${ticket.websocket}`);
    socket.binaryType = 'arraybuffer';
    const link = {
      kind: 'websocket',
      handlers: null,
      send(message) {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
      },
      close() { socket.close(); },
    };
    const answered = firstAnswer(link, handlers, 0);
    socket.onopen = () => link.send({ type: 'ticket', ticket: ticket.ticket });
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') link.handlers.control(JSON.parse(event.data));
      else link.handlers.frame(new Uint8Array(event.data));
    };
    socket.onclose = (event) => link.handlers.closed(event.reason || 'the connection closed');
    return answered;
  }

  // ---- video

  // The codec string of an H.264 stream from the SPS of a keyframe (avc1.PPCCLL).
  function codecOf(annexB) {
    for (let i = 0; i + 3 < annexB.length; i++) {
      if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1) {
        const nal = i + 3;
        if ((annexB[nal] & 0x1f) === 7 && nal + 3 < annexB.length) {
          const hex = (b) => b.toString(16).padStart(2, '0');
          return `avc1.${hex(annexB[nal + 1])}${hex(annexB[nal + 2])}${hex(annexB[nal + 3])}`;
        }
        i = nal - 1;
      }
    }
    return null;
  }

  const context = canvas.getContext('2d', { alpha: false });
  let decoder = null;
  let configured = null; // codec string the decoder has
  let waitingForKey = true;
  let link = null;
  const decodedAt = [];

  function requestKeyframe() {
    waitingForKey = true;
    if (link) link.send({ type: 'keyframe_request' });
  }

  function newDecoder() {
    if (decoder && decoder.state !== 'closed') decoder.close();
    decoder = new VideoDecoder({
      output: draw,
      error: (e) => {
        console.warn('decoder error', e);
        configured = null;
        requestKeyframe();
      },
    });
  }

  function onFrame(bytes) {
    if (bytes.length < HEADER_LEN || bytes[0] !== 1) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const keyframe = (bytes[1] & 1) === 1;
    const capture = Number(view.getBigUint64(10));
    const data = bytes.subarray(HEADER_LEN);
    state.stats.framesReceived++;
    if (!keyframe && waitingForKey) {
      state.stats.dropped++;
      return;
    }
    if (keyframe) {
      state.stats.keyframes++;
      const codec = codecOf(data);
      if (!codec) return;
      if (!decoder || decoder.state === 'closed' || configured !== codec) {
        newDecoder();
        decoder.configure({ codec, optimizeForLatency: true, hardwareAcceleration: 'no-preference' });
        configured = codec;
      }
      waitingForKey = false;
    } else if (decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
      // Behind: skip to the next keyframe rather than show the past late.
      state.stats.dropped++;
      requestKeyframe();
      return;
    }
    try {
      decoder.decode(new EncodedVideoChunk({ type: keyframe ? 'key' : 'delta', timestamp: capture, data }));
    } catch (e) {
      console.warn('decode refused', e);
      configured = null;
      requestKeyframe();
    }
  }

  function draw(frame) {
    const w = frame.displayWidth;
    const h = frame.displayHeight;
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
      layout();
    }
    context.drawImage(frame, 0, 0, w, h);
    const now = performance.timeOrigin + performance.now() + state.stats.clockOffsetMs;
    const latency = now - frame.timestamp / 1000;
    frame.close();
    const s = state.stats;
    s.framesDecoded++;
    decodedAt.push(performance.now());
    s.latencies.push(latency);
    if (s.latencies.length > 2000) s.latencies.splice(0, 1000);
    if (state.phase === 'watching') show('');
  }

  function updateQuality() {
    const now = performance.now();
    while (decodedAt.length && decodedAt[0] < now - 1000) decodedAt.shift();
    const s = state.stats;
    s.fps = decodedAt.length;
    const recent = s.latencies.slice(-Math.max(1, s.fps));
    s.latencyMs = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null;
    const q = $('quality');
    if (state.phase !== 'watching') return;
    const latency = s.latencyMs === null ? '–' : Math.max(0, Math.round(s.latencyMs));
    const transport = state.transport === 'webtransport' ? 'WebTransport' : 'WebSocket';
    q.textContent = `${s.fps} fps · ${latency} ms · ${transport}`;
    q.className = 'quality ' + (s.latencyMs === null ? '' : s.latencyMs < 150 ? 'good' : s.latencyMs < 400 ? 'fair' : 'poor');
  }

  // ---- scaling

  function layout() {
    if (!canvas.width) return;
    if (state.fit) {
      const scale = Math.min(stage.clientWidth / canvas.width, stage.clientHeight / canvas.height);
      canvas.style.width = `${Math.floor(canvas.width * scale)}px`;
      canvas.style.height = `${Math.floor(canvas.height * scale)}px`;
    } else {
      canvas.style.width = `${canvas.width}px`;
      canvas.style.height = `${canvas.height}px`;
    }
    stage.className = state.fit ? 'fit' : 'actual';
    $('scale').textContent = state.fit ? '1:1' : 'Fit';
  }
  window.addEventListener('resize', layout);
  document.addEventListener('fullscreenchange', layout);

  function toggleScale() {
    state.fit = !state.fit;
    layout();
  }

  // ---- input

  const heldKeys = new Map(); // code -> text it went down with
  const heldButtons = new Set();
  let lastPointer = null;
  const BUTTONS = ['left', 'middle', 'right'];

  function mayType() {
    return state.phase === 'watching' && state.control;
  }

  function send(message) {
    if (link) link.send(message);
  }

  function remotePixel(event) {
    const r = canvas.getBoundingClientRect();
    if (!r.width || !r.height) return null;
    const x = Math.floor((event.clientX - r.left) * canvas.width / r.width);
    const y = Math.floor((event.clientY - r.top) * canvas.height / r.height);
    if (x < 0 || y < 0 || x >= canvas.width || y >= canvas.height) return null;
    return { x, y };
  }

  function pointerTo(event) {
    const at = remotePixel(event);
    if (!at) return false;
    if (!lastPointer || lastPointer.x !== at.x || lastPointer.y !== at.y) {
      lastPointer = at;
      send({ type: 'pointer', x: at.x, y: at.y });
    }
    return true;
  }

  function releaseButtons() {
    for (const button of heldButtons) send({ type: 'button', button, down: false });
    heldButtons.clear();
  }

  function releaseAll() {
    for (const code of [...heldKeys.keys()].reverse()) send({ type: 'key', code, text: '', down: false });
    heldKeys.clear();
    releaseButtons();
  }

  canvas.addEventListener('pointermove', (event) => {
    if (mayType()) pointerTo(event);
  });
  canvas.addEventListener('pointerdown', (event) => {
    canvas.focus();
    event.preventDefault();
    const button = BUTTONS[event.button];
    if (!mayType() || !button || heldButtons.has(button)) return;
    if (!pointerTo(event) && !lastPointer) return;
    canvas.setPointerCapture(event.pointerId);
    heldButtons.add(button);
    send({ type: 'button', button, down: true });
  });
  canvas.addEventListener('pointerup', (event) => {
    const button = BUTTONS[event.button];
    if (button && heldButtons.delete(button)) {
      if (mayType()) pointerTo(event);
      send({ type: 'button', button, down: false });
    }
  });
  canvas.addEventListener('pointerleave', (event) => {
    if (!canvas.hasPointerCapture(event.pointerId)) releaseButtons();
  });
  canvas.addEventListener('lostpointercapture', () => releaseButtons());
  canvas.addEventListener('contextmenu', (event) => event.preventDefault());

  let wheelRest = { x: 0, y: 0 };
  canvas.addEventListener('wheel', (event) => {
    event.preventDefault();
    if (!mayType() || !pointerTo(event)) return;
    const per = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? 3
      : event.deltaMode === WheelEvent.DOM_DELTA_PAGE ? 0.1 : WHEEL_PIXELS_PER_STEP;
    const x = wheelRest.x + event.deltaX / per;
    const y = wheelRest.y + event.deltaY / per;
    const dx = Math.trunc(x);
    const dy = Math.trunc(y);
    wheelRest = { x: x - dx, y: y - dy };
    if (dx || dy) {
      send({ type: 'wheel', dx: Math.max(-100, Math.min(100, dx)), dy: Math.max(-100, Math.min(100, dy)) });
    }
  }, { passive: false });

  function shortcut(event) {
    switch (event.code) {
      case 'F8': nextMonitor(); return true;
      case 'F9': takeControl(); return true;
      case 'F10': toggleScale(); return true;
      default: return false;
    }
  }

  canvas.addEventListener('keydown', (event) => {
    event.preventDefault();
    if (['F8', 'F9', 'F10'].includes(event.code)) {
      if (!event.repeat) shortcut(event);
      return;
    }
    if (!mayType() || event.isComposing) return;
    const code = event.code || 'Unidentified';
    const text = [...event.key].length === 1 ? event.key : '';
    heldKeys.set(code, text);
    send({ type: 'key', code, text, down: true });
  });
  canvas.addEventListener('keyup', (event) => {
    event.preventDefault();
    const code = event.code || 'Unidentified';
    if (heldKeys.has(code)) {
      heldKeys.delete(code);
      send({ type: 'key', code, text: '', down: false });
    }
  });
  canvas.addEventListener('blur', releaseAll);
  window.addEventListener('blur', releaseAll);
  document.addEventListener('visibilitychange', () => { if (document.hidden) releaseAll(); });
  window.addEventListener('pagehide', releaseAll);

  // ---- toolbar

  function takeControl() {
    send({ type: 'take_control' });
  }

  function nextMonitor() {
    if (state.monitors.length < 2 || !state.display) return;
    const i = state.monitors.findIndex((m) => m.index === state.display.index);
    send({ type: 'share_monitor', monitor: state.monitors[(i + 1) % state.monitors.length].index });
  }

  $('take-control').addEventListener('click', takeControl);
  $('scale').addEventListener('click', toggleScale);
  $('fullscreen').addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen().then(() => canvas.focus()).catch(() => {});
  });
  $('monitor').addEventListener('change', (event) => {
    send({ type: 'share_monitor', monitor: Number(event.target.value) });
    canvas.focus();
  });
  $('end').addEventListener('click', () => { $('confirm-end').hidden = false; $('end-no').focus(); });
  $('end-no').addEventListener('click', () => { $('confirm-end').hidden = true; canvas.focus(); });
  $('end-yes').addEventListener('click', () => {
    $('confirm-end').hidden = true;
    send({ type: 'end_session' });
  });

  function renderParticipants() {
    const box = $('participants');
    box.textContent = '';
    const controller = state.participants.find((p) => p.controlling);
    state.participants.forEach((p, i) => {
      if (i) box.append(', ');
      const span = document.createElement('span');
      span.textContent = p.you ? `${p.name} (you)` : p.name;
      if (p.controlling) {
        span.className = 'controlling';
        span.title = 'has the mouse and keyboard';
      }
      box.append(span);
    });
    $('take-control').hidden = !(state.control && controller && !controller.you);
  }

  function renderMonitors() {
    const select = $('monitor');
    select.textContent = '';
    for (const m of state.monitors) {
      const option = document.createElement('option');
      option.value = String(m.index);
      option.textContent = `${m.index + 1}: ${m.width}×${m.height}${m.primary ? ' (primary)' : ''}`;
      select.append(option);
    }
    if (state.display) select.value = String(state.display.index);
    select.disabled = state.monitors.length < 2;
  }

  // ---- session

  const handlers = {
    control(message) {
      switch (message.type) {
        case 'accepted':
          state.phase = 'watching';
          state.control = message.control;
          state.display = message.display;
          show('Waiting for the first picture…');
          // The decoder starts at a keyframe; the gateway asked the app for one when it
          // attached this viewer (asking here too would cost a second one).
          waitingForKey = true;
          break;
        case 'refused':
          end(`Not connected: ${message.message}`);
          break;
        case 'screen':
          state.monitors = message.monitors;
          state.display = message.display;
          renderMonitors();
          break;
        case 'agent_away':
          state.away = true;
          show(message.message);
          break;
        case 'agent_back':
          state.away = false;
          show('');
          break;
        case 'participants':
          state.participants = message.list;
          renderParticipants();
          break;
        case 'input_result':
          state.lastInputResult = message.outcome;
          if (message.outcome === 'NotController') show('Another technician has the mouse and keyboard — Take control (F9) to use them.');
          else if (message.outcome === 'NoControl') show('The end user allowed viewing only.');
          setTimeout(() => { if (!state.away) show(''); }, 4000);
          break;
        case 'ended':
          end(`Session ended: ${message.message}`, message.reason);
          break;
        case 'pong':
          onPong(message);
          break;
        case 'error':
          show(message.message);
          break;
        default:
          break;
      }
    },
    frame: onFrame,
    closed(why) {
      if (state.phase !== 'ended') end(`The connection to the gateway was lost: ${why}. Reload the page to reconnect.`);
    },
  };

  function end(text, reason) {
    releaseAll();
    state.phase = 'ended';
    state.ended = reason || text;
    show(text);
    $('quality').textContent = 'ended';
    $('quality').className = 'quality';
    for (const id of ['take-control', 'end', 'monitor']) $(id).disabled = true;
    if (link) link.close();
  }

  let pingId = 0;
  const pings = new Map();
  function ping() {
    if (state.phase !== 'watching') return;
    pingId++;
    pings.set(pingId, performance.now());
    send({ type: 'ping', id: pingId });
  }
  function onPong(message) {
    const sent = pings.get(message.id);
    if (sent === undefined) return;
    pings.delete(message.id);
    const now = performance.now();
    const rtt = now - sent;
    const s = state.stats;
    // Latency is measured against the gateway's clock (the agent's capture time is on the
    // end user's clock; both are expected to be NTP-synchronised).
    if (s.rttMs === null || rtt <= s.rttMs * 1.5) {
      s.clockOffsetMs = message.gateway_micros / 1000 - (performance.timeOrigin + sent + rtt / 2);
    }
    s.rttMs = rtt;
  }

  async function start() {
    if (!sessionId) {
      end('No session in the address.');
      return;
    }
    if (typeof VideoDecoder === 'undefined') {
      end('This browser cannot decode video (WebCodecs). Use a current Chrome, Edge or Firefox.');
      return;
    }
    try {
      let ticket = await fetchTicket();
      if (forced !== 'ws') {
        try {
          link = await connectWebTransport(ticket, handlers);
        } catch (e) {
          state.fallbackReason = String(e.message || e);
          if (forced === 'webtransport') throw e;
          console.info('WebTransport unavailable, using WebSocket:', state.fallbackReason);
          // The first ticket may have been used up: take a fresh one.
          ticket = await fetchTicket();
        }
      }
      if (!link) link = await connectWebSocket(ticket, handlers);
      state.transport = link.kind;
      if (state.phase !== 'ended') canvas.focus();
      setInterval(ping, PING_EVERY_MS);
      ping();
    } catch (e) {
      end(`Cannot connect: ${e.message || e}`);
    }
  }

  setInterval(updateQuality, 500);
  start();
})();

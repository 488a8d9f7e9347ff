// portico-ws.js: the browser SDK for Portico's WebSocket gateway, one dependency-free ES module served
// by the gateway at /sdk/portico-ws.js. One connection that reconnects by itself with capped
// exponential backoff; actions that await their reply by correlation id; channel subscriptions that
// survive reconnects by recovering from the last offset (or report that recovery was impossible).
// Message formats: docs/gateways/websocket.md and Protocols/asyncapi/websocket.yaml.

export class PorticoError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

export class PorticoClient {
  /**
   * @param {string} url ws:// or wss:// URL of the gateway's WebSocket path.
   * @param {object} [options]
   * @param {string} [options.token] JWT sent as ?token= (browsers cannot set headers on WebSocket).
   * @param {string[]} [options.protocols] Subprotocols to offer.
   * @param {string} [options.actionField] The field the gateway's routeSelection reads (default action).
   * @param {number} [options.replyTimeout] Milliseconds to wait for an answer (default 10000).
   * @param {number} [options.initialBackoff] First reconnect delay in ms (default 250), doubled up to maxBackoff.
   * @param {number} [options.maxBackoff] Longest reconnect delay in ms (default 10000).
   */
  constructor(url, options = {}) {
    this.url = url;
    this.options = { actionField: "action", replyTimeout: 10000, initialBackoff: 250, maxBackoff: 10000, ...options };
    this.socket = null;
    this.nextId = 0;
    this.pending = new Map(); // correlationId -> {resolve, reject, timer}
    this.subscriptions = new Map(); // channel -> {handler, offset, epoch}
    this.listeners = new Map(); // event -> Set of handlers
    this.backoff = this.options.initialBackoff;
    this.stopped = true;
  }

  /** Starts the connection (and keeps it up until close()). */
  connect() {
    this.stopped = false;
    this.#open();
  }

  /** Closes the connection with 1000 and stops reconnecting. */
  close() {
    this.stopped = true;
    if (this.socket) this.socket.close(1000, "client closed");
  }

  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** Adds a handler for "connected", "disconnected" ({code, reason}), "recovered" (channel),
   * "recoveryImpossible" (channel) or "message" (any message that answers no request). */
  on(event, handler) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(handler);
    return () => this.listeners.get(event).delete(handler);
  }

  /** Sends body with action and resolves with the route's reply data. */
  send(action, body = {}) {
    return this.#request({ ...body, [this.options.actionField]: action }).then((answer) => answer.data);
  }

  /** Sends body with action on a one-way route; nothing is awaited. */
  emit(action, body = {}) {
    this.#write({ ...body, [this.options.actionField]: action });
  }

  /** Subscribes to channel; handler gets {channel, offset, epoch, data} for each publication, in order,
   * also those recovered after a reconnect. Resolves with {unsubscribe()}. */
  async subscribe(channel, handler) {
    const existing = this.subscriptions.get(channel);
    this.subscriptions.set(channel, { handler, offset: existing?.offset ?? null, epoch: existing?.epoch ?? null });
    await this.#request({ [this.options.actionField]: "$subscribe", channel });
    return {
      unsubscribe: async () => {
        this.subscriptions.delete(channel);
        await this.#request({ [this.options.actionField]: "$unsubscribe", channel });
      },
    };
  }

  /** Publishes data on channel (it must allow client publications); resolves with its offset. */
  async publish(channel, data) {
    const answer = await this.#request({ [this.options.actionField]: "$publish", channel, data });
    return answer.offset;
  }

  /** Resolves with the channel's members [{connectionId, subject}] (channels with presence). */
  async presence(channel) {
    const answer = await this.#request({ [this.options.actionField]: "$presence", channel });
    return answer.members;
  }

  #emit(event, value) {
    for (const handler of this.listeners.get(event) ?? []) {
      try {
        handler(value);
      } catch (error) {
        console.error(error);
      }
    }
  }

  #open() {
    let url = this.url;
    if (this.options.token) url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(this.options.token);
    const socket = new WebSocket(url, this.options.protocols);
    this.socket = socket;
    socket.onopen = () => {
      this.backoff = this.options.initialBackoff;
      this.#emit("connected");
      // Renew every subscription, from the last position seen when there is one.
      for (const [channel, subscription] of this.subscriptions) {
        const message = { [this.options.actionField]: "$subscribe", channel };
        if (subscription.offset !== null) message.since = { offset: subscription.offset, epoch: subscription.epoch };
        this.#write(message);
      }
    };
    socket.onmessage = (event) => this.#received(event.data);
    socket.onclose = (event) => {
      if (this.socket === socket) this.socket = null;
      for (const [, waiting] of this.pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new PorticoError("disconnected", "the connection was lost"));
      }
      this.pending.clear();
      this.#emit("disconnected", { code: event.code, reason: event.reason });
      if (this.stopped) return;
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.options.maxBackoff);
      setTimeout(() => {
        if (!this.stopped) this.#open();
      }, delay);
    };
  }

  #write(message) {
    if (!this.connected) throw new PorticoError("disconnected", "not connected to the gateway");
    this.socket.send(JSON.stringify(message));
  }

  #request(message) {
    return new Promise((resolve, reject) => {
      const id = `portico-${++this.nextId}`;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PorticoError("timeout", "no answer within the reply timeout"));
      }, this.options.replyTimeout);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.#write({ ...message, correlationId: id });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error);
      }
    });
  }

  #received(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.#emit("message", text);
      return;
    }
    if (message === null || typeof message !== "object") {
      this.#emit("message", message);
      return;
    }
    if (message.type === "publication") {
      this.#deliver(message);
      return;
    }
    if (message.type === "subscribed") this.#subscribed(message);
    const waiting = this.pending.get(message.correlationId);
    if (!waiting) {
      if (message.type !== "subscribed") this.#emit("message", message);
      return;
    }
    this.pending.delete(message.correlationId);
    clearTimeout(waiting.timer);
    if (message.type === "error") waiting.reject(new PorticoError(message.code, message.message));
    else waiting.resolve(message);
  }

  #subscribed(message) {
    const subscription = this.subscriptions.get(message.channel);
    if (!subscription) return;
    const resumed = subscription.offset !== null;
    subscription.epoch = message.epoch;
    if (message.recovery === "recovered") {
      for (const publication of message.publications ?? []) this.#deliver(publication);
      this.#emit("recovered", message.channel);
    } else if (message.recovery === "impossible" || resumed) {
      this.#emit("recoveryImpossible", message.channel);
    }
    subscription.offset = Math.max(subscription.offset ?? 0, message.offset);
  }

  #deliver(publication) {
    const subscription = this.subscriptions.get(publication.channel);
    if (!subscription) return;
    // A recovery and a live publication can overlap: each offset is delivered once.
    if (subscription.offset !== null && publication.offset <= subscription.offset && subscription.epoch === publication.epoch) return;
    subscription.offset = publication.offset;
    subscription.epoch = publication.epoch;
    subscription.handler({ channel: publication.channel, offset: publication.offset, epoch: publication.epoch, data: publication.data });
  }
}

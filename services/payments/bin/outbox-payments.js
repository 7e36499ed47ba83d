#!/usr/bin/env node
// The `outbox-payments` command npm links into node_modules/.bin (why a committed launcher: @outbox-relay/runtime/launcher.cjs).
'use strict';
require('@outbox-relay/runtime/launcher.cjs').launch('outbox-payments', require('node:path').join(__dirname, '..', 'dist', 'main.js'));

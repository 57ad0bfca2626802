import { type Dispatch, useEffect, useState } from 'react';
import type { UiSettings } from '../../../src/agent/ui-protocol.js';
import type { ChorusError } from '../../../src/protocol/errors.js';
import { link } from '../agent-link.js';
import type { Action } from '../state.js';
import { Panel } from './ChatForms.js';
import { FormError } from './Field.js';

/**
 * The account's settings, kept by the server (the same on every device): for now, whether
 * others see how far one has read. Each change is saved at once; the checkbox shows what the
 * click shows at once and is put back if the server refuses it.
 */
export function SettingsPanel({ dispatch }: { dispatch: Dispatch<Action> }) {
  const [settings, setSettings] = useState<UiSettings | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    link.request('settings', {}).then(setSettings, (e: ChorusError) => setError(e.message));
  }, []);

  function change(receipts: boolean) {
    const before = settings;
    setSettings({ receipts });
    setSaving(true);
    setError(undefined);
    link
      .request('updateSettings', { receipts })
      .then(setSettings, (e: ChorusError) => {
        setSettings(before);
        setError(e.message);
      })
      .finally(() => setSaving(false));
  }

  return (
    <Panel title="Settings" dispatch={dispatch}>
      <div className="settings-option">
        <label className="checkbox-row">
          <input
            type="checkbox"
            checked={settings?.receipts ?? true}
            disabled={!settings}
            aria-busy={saving}
            onChange={(e) => change(e.target.checked)}
            aria-describedby="receipts-explained"
          />
          <span>Send read receipts</span>
        </label>
        <p id="receipts-explained" className="panel-lead">
          Others see “Seen by” under their messages once you have read them. Turned off (private mode), nobody sees how far you have read; your
          position is still kept, so that your unread counts agree on every device. Others’ receipts are shown to you either way.
        </p>
      </div>
      {error && <FormError message={error} />}
    </Panel>
  );
}

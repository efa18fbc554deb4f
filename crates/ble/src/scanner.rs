//! The btleplug source: scan for FD6F adverts on the first Bluetooth adapter and report each
//! one as an [`AdvertFrame`]. Every way it can fail to start comes back as a [`BleError`]
//! that says which (no system bus, no BlueZ, no adapter, no permission, adapter off).

use std::ops::ControlFlow;
use std::time::Duration;

use btleplug::api::bleuuid::uuid_from_u16;
use btleplug::api::{Central, CentralEvent, Manager as _, Peripheral as _, ScanFilter};
use btleplug::platform::Manager;
use futures_util::StreamExt;

use crate::error::{BleError, ErrorKind};
use crate::frame::AdvertFrame;

/// Why a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// The duration passed.
    TimeUp,
    /// The caller asked to stop.
    Stopped,
    /// Ctrl-C.
    Interrupted,
    /// The stack stopped sending events.
    StreamEnded,
}

fn from_btleplug(error: &btleplug::Error) -> BleError {
    let kind = match error {
        btleplug::Error::NoAdapterAvailable => ErrorKind::NoAdapter,
        btleplug::Error::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    };
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    BleError::classify(kind, &message)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Scans for `duration` (or until `on_frame` breaks, or Ctrl-C), handing every advert with
/// FD6F service data to `on_frame`. `on_adapter` is told the adapter's name once scanning
/// has started. Blocks the calling thread.
///
/// # Errors
/// [`BleError`] when scanning cannot start or the stack fails.
pub fn scan(
    duration: Duration,
    on_adapter: &mut dyn FnMut(&str),
    on_frame: &mut dyn FnMut(AdvertFrame) -> ControlFlow<()>,
) -> Result<ScanEnd, BleError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BleError::Stack(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let manager = Manager::new().await.map_err(|e| from_btleplug(&e))?;
        let adapter = manager
            .adapters()
            .await
            .map_err(|e| from_btleplug(&e))?
            .into_iter()
            .next()
            .ok_or(BleError::NoAdapter)?;
        let mut events = adapter.events().await.map_err(|e| from_btleplug(&e))?;
        adapter
            .start_scan(ScanFilter {
                services: vec![uuid_from_u16(0xFD6F)],
            })
            .await
            .map_err(|e| from_btleplug(&e))?;
        let name = adapter
            .adapter_info()
            .await
            .unwrap_or_else(|_| "Bluetooth adapter".to_owned());
        on_adapter(&name);
        let deadline = tokio::time::Instant::now() + duration;
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let end = loop {
            let event = tokio::select! {
                () = tokio::time::sleep_until(deadline) => break ScanEnd::TimeUp,
                _ = &mut interrupted => break ScanEnd::Interrupted,
                event = events.next() => event,
            };
            let Some(event) = event else {
                break ScanEnd::StreamEnded;
            };
            let CentralEvent::ServiceDataAdvertisement { id, service_data } = event else {
                continue;
            };
            // RSSI and TX power come with the device's properties, updated by the same advert.
            let properties = match adapter.peripheral(&id).await {
                Ok(p) => p.properties().await.ok().flatten(),
                Err(_) => None,
            };
            let frame = AdvertFrame {
                time: now_unix(),
                address: properties
                    .as_ref()
                    .map_or_else(|| id.to_string(), |p| p.address.to_string()),
                rssi: properties.as_ref().and_then(|p| p.rssi),
                tx_power_dbm: properties.as_ref().and_then(|p| p.tx_power_level),
                service_data: service_data
                    .into_iter()
                    .map(|(uuid, data)| (uuid.to_string(), data))
                    .collect(),
            };
            if on_frame(frame).is_break() {
                break ScanEnd::Stopped;
            }
        };
        // Best effort: the adapter stops scanning when the session closes anyway.
        let _ = adapter.stop_scan().await;
        Ok(end)
    })
}

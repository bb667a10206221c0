//! Usage metering: each operation records its tool, duration, sizes and credits, never pixels,
//! file names or prompts. People see theirs by day and tool.

use std::time::Instant;

use app::data::{UsageRecord, UsageReport};
use app::ids::OwnerId;
use sqlx::Row;
use uuid::Uuid;

use app::ui::day;

use crate::platform::db::{now, Db};

/// Credits an operation costs: storing and exporting are free, each processed image costs one
/// per started 12 megapixels of output.
pub fn credits(tool: &str, output_width: u32, output_height: u32) -> u64 {
    match tool {
        "upload" | "export" => 0,
        _ => (u64::from(output_width) * u64::from(output_height)).div_ceil(12_000_000).max(1),
    }
}

/// A measurement in progress: `Meter::start()`, then `finish` with the sizes.
pub struct Meter(Instant);

impl Meter {
    pub fn start() -> Self {
        Self(Instant::now())
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }

    pub fn finish(self, tool: &str, input: (u32, u32), output: (u32, u32)) -> UsageRecord {
        UsageRecord {
            tool: tool.into(),
            duration_ms: u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX),
            input_width: input.0,
            input_height: input.1,
            output_width: output.0,
            output_height: output.1,
            credits: credits(tool, output.0, output.1),
            created_at: now(),
        }
    }
}

impl Db {
    pub async fn record_usage(&self, owner: OwnerId, record: &UsageRecord) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO usage_records (id, owner_id, tool, duration_ms, input_width, input_height, output_width, output_height, credits, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(owner.to_string())
        .bind(&record.tool)
        .bind(record.duration_ms as i64)
        .bind(i64::from(record.input_width))
        .bind(i64::from(record.input_height))
        .bind(i64::from(record.output_width))
        .bind(i64::from(record.output_height))
        .bind(record.credits as i64)
        .bind(record.created_at)
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Metering must never stop the work it measures: failures are logged.
    pub async fn record_usage_or_log(&self, owner: OwnerId, record: UsageRecord) {
        if let Err(error) = self.record_usage(owner, &record).await {
            tracing::error!(%error, tool = record.tool, "recording usage failed");
        }
    }

    pub async fn usage_records(&self, owner: OwnerId) -> Result<Vec<UsageRecord>, sqlx::Error> {
        let rows = sqlx::query("SELECT * FROM usage_records WHERE owner_id = $1 ORDER BY id DESC")
            .bind(owner.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let number = |column: &str| -> Result<i64, sqlx::Error> { row.try_get::<i64, _>(column) };
                let size =
                    |column: &str| -> Result<u32, sqlx::Error> { Ok(u32::try_from(number(column)?).unwrap_or(0)) };
                Ok(UsageRecord {
                    tool: row.try_get("tool")?,
                    duration_ms: number("duration_ms")?.max(0) as u64,
                    input_width: size("input_width")?,
                    input_height: size("input_height")?,
                    output_width: size("output_width")?,
                    output_height: size("output_height")?,
                    credits: number("credits")?.max(0) as u64,
                    created_at: number("created_at")?,
                })
            })
            .collect()
    }

    /// The report the account page charts: operations and credits per day and tool.
    pub async fn usage_report(&self, owner: OwnerId) -> Result<UsageReport, sqlx::Error> {
        let records = self.usage_records(owner).await?;
        let mut by_day = std::collections::BTreeMap::<(String, String), (u64, u64)>::new();
        for record in &records {
            let slot = by_day.entry((day(record.created_at), record.tool.clone())).or_default();
            slot.0 += 1;
            slot.1 += record.credits;
        }
        Ok(UsageReport {
            total_credits: records.iter().map(|r| r.credits).sum(),
            by_day: by_day.into_iter().map(|((day, tool), (ops, credits))| (day, tool, ops, credits)).collect(),
            recent: records.into_iter().take(50).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credits_follow_output_size() {
        assert_eq!(super::credits("upload", 8000, 6000), 0);
        assert_eq!(super::credits("edit", 100, 100), 1);
        assert_eq!(super::credits("edit", 4000, 3000), 1);
        assert_eq!(super::credits("edit", 4001, 3000), 2);
        assert_eq!(super::day(1_795_000_000), "2026-11-18");
    }
}

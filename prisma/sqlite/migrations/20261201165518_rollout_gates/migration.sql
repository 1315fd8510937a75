-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Rollout" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "channelId" TEXT NOT NULL,
    "releaseId" TEXT NOT NULL,
    "previousReleaseId" TEXT,
    "state" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "steps" JSONB NOT NULL,
    "include" JSONB NOT NULL,
    "exclude" JSONB NOT NULL,
    "salt" TEXT NOT NULL,
    "reason" TEXT,
    "startedBy" TEXT NOT NULL,
    "startedAt" DATETIME NOT NULL,
    "stepStartedAt" DATETIME NOT NULL,
    "endedAt" DATETIME,
    "endedBy" TEXT,
    "endReason" TEXT,
    "gates" JSONB,
    "onFailure" TEXT NOT NULL DEFAULT 'halt',
    "gateResults" JSONB,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Rollout_channelId_fkey" FOREIGN KEY ("channelId") REFERENCES "Channel" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Rollout_releaseId_fkey" FOREIGN KEY ("releaseId") REFERENCES "Release" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
INSERT INTO "new_Rollout" ("channelId", "endReason", "endedAt", "endedBy", "exclude", "id", "include", "previousReleaseId", "reason", "releaseId", "salt", "startedAt", "startedBy", "state", "step", "stepStartedAt", "steps", "updatedAt") SELECT "channelId", "endReason", "endedAt", "endedBy", "exclude", "id", "include", "previousReleaseId", "reason", "releaseId", "salt", "startedAt", "startedBy", "state", "step", "stepStartedAt", "steps", "updatedAt" FROM "Rollout";
DROP TABLE "Rollout";
ALTER TABLE "new_Rollout" RENAME TO "Rollout";
CREATE INDEX "Rollout_channelId_startedAt_idx" ON "Rollout"("channelId", "startedAt");
CREATE INDEX "Rollout_state_idx" ON "Rollout"("state");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;


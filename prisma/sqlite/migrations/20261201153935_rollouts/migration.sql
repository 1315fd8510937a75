-- CreateTable
CREATE TABLE "Rollout" (
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
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Rollout_channelId_fkey" FOREIGN KEY ("channelId") REFERENCES "Channel" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Rollout_releaseId_fkey" FOREIGN KEY ("releaseId") REFERENCES "Release" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "Rollout_channelId_startedAt_idx" ON "Rollout"("channelId", "startedAt");

-- CreateIndex
CREATE INDEX "Rollout_state_idx" ON "Rollout"("state");


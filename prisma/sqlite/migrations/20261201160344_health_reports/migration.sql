-- CreateTable
CREATE TABLE "HealthReport" (
    "sub" TEXT NOT NULL,
    "releaseId" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "message" TEXT,
    "reportedAt" DATETIME NOT NULL,
    "jti" TEXT,
    "current" BOOLEAN NOT NULL DEFAULT true,

    PRIMARY KEY ("sub", "releaseId")
);

-- CreateTable
CREATE TABLE "HealthReportEntry" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sub" TEXT NOT NULL,
    "releaseId" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "message" TEXT,
    "reportedAt" DATETIME NOT NULL,
    "jti" TEXT
);

-- CreateIndex
CREATE INDEX "HealthReport_releaseId_channel_state_idx" ON "HealthReport"("releaseId", "channel", "state");

-- CreateIndex
CREATE INDEX "HealthReport_current_channel_idx" ON "HealthReport"("current", "channel");

-- CreateIndex
CREATE INDEX "HealthReportEntry_sub_id_idx" ON "HealthReportEntry"("sub", "id");


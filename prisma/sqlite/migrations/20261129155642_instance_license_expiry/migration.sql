-- AlterTable
ALTER TABLE "Instance" ADD COLUMN "licenseExpiresAt" DATETIME;


// Schemas shared by the OpenAPI descriptions of every route.
import { z } from "zod";

export const errorSchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    code: z.string().describe("stable error code, e.g. LICENSE_EXPIRED, PROMOTION_CONFLICT"),
    message: z.string(),
    field: z.string().optional().describe("the input field at fault (4xx on bad input)"),
    reason: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), reason: z.string() })).optional().describe("every problem, when the input has more than one (the first is field and reason)"),
  })
  .describe("Error");

/** `{401: errorSchema, …}` for the listed statuses. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(statuses.map((s) => [s, errorSchema]));
}

/** generate_image: a prompt (and reference images) to an image model through OpenRouter's `POST /images`. */
import * as z from 'zod';
import { formatUsd } from '../catalog/pricing.js';
import type { ImageResult } from '../openrouter/schemas.js';
import { advertiseAs } from './advertised.js';
import { PAID_CALL } from './context.js';
import { IMAGE_LINK_DESCRIPTION, ImageLink, linkLines, publishImages, type PublishedImages } from './image-output.js';
import type { ToolOutcome } from './outcome.js';
import { ModelId } from './params.js';
import { defineTool } from './tool.js';

export const MAX_INPUT_IMAGES = 4;
/** Reference images travel in the request body, which is bounded anyway (ORMCP_MAX_BODY_BYTES, at most 6 MB). */
export const MAX_INPUT_IMAGE_CHARS = 6 * 1024 * 1024;

const ImageRef = z
  .string()
  .max(MAX_INPUT_IMAGE_CHARS)
  .regex(/^(https:\/\/|data:image\/(png|jpeg|webp|gif);base64,)/i, 'a reference image is an https URL or a data:image/(png|jpeg|webp|gif);base64, URL');

export const ImageInput = z.strictObject({
  model: ModelId.describe('An image model, e.g. "google/gemini-2.5-flash-image".'),
  prompt: z.string().min(1).max(32_000),
  input_images: advertiseAs(z
    .array(ImageRef)
    .min(1)
    .max(MAX_INPUT_IMAGES)
    .refine((refs) => refs.reduce((sum, r) => sum + r.length, 0) <= MAX_INPUT_IMAGE_CHARS, `reference images total at most ${MAX_INPUT_IMAGE_CHARS} characters`),
  { type: 'array', items: { type: 'string' }, description: `Up to ${MAX_INPUT_IMAGES} reference images: https or data:image/… URLs.` })
    .optional(),
  n: z.number().int().min(1).max(4).optional(),
  aspect_ratio: z.enum(['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9', 'auto']).optional(),
  output_format: z.enum(['png', 'jpeg', 'webp']).optional(),
  seed: z.number().int().optional(),
});
export type ImageInput = z.output<typeof ImageInput>;

export const ImageOutput = advertiseAs(z.object({
  model: z.string(),
  images: z.array(ImageLink),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number(), cost: z.number().nullable() }),
  notice: z.string().optional(),
}), {
  type: 'object',
  description: `model, images [${IMAGE_LINK_DESCRIPTION}], usage {prompt_tokens, completion_tokens, total_tokens, cost ($)}, notice?`,
  required: ['model', 'images', 'usage'],
});
export type ImageOutput = z.infer<typeof ImageOutput>;

/** The request body: OpenRouter's field names; reference images as the spec's image content parts. */
export function imageRequestBody(args: ImageInput): Record<string, unknown> {
  const { input_images, ...rest } = args;
  return { ...rest, ...(input_images ? { input_references: input_images.map((url) => ({ type: 'image_url', image_url: { url } })) } : {}) };
}

export function presentImages(model: string, result: ImageResult, published: PublishedImages): ToolOutcome<ImageOutput> {
  const u = result.usage;
  const cost = u?.cost ?? null;
  const none = published.links.length === 0 && published.blocks.length === 0;
  const notices = [...published.notices, ...(result.data.length === 0 ? ['The model returned no image. Try another prompt or model.'] : [])];
  const output: ImageOutput = {
    model,
    images: published.links,
    usage: { prompt_tokens: u?.prompt_tokens ?? 0, completion_tokens: u?.completion_tokens ?? 0, total_tokens: u?.total_tokens ?? 0, cost },
    ...(notices.length ? { notice: notices.join(' ') } : {}),
  };
  const main = [...notices.map((n) => `⚠ ${n}`), ...linkLines(published.links)];
  const meta = `model: ${model} · images: ${result.data.length} · cost: ${formatUsd(cost)}`;
  return {
    structured: output,
    text: [main.join('\n') || `${published.blocks.length} image(s) below.`, meta],
    images: published.blocks,
    isError: none,
    log: { model, images: result.data.length, inline_images: published.blocks.length, cost },
    usage: {
      model,
      ...(u ? { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens } : {}),
      ...(cost !== null ? { costUsd: cost } : {}),
    },
  };
}

export const imageTool = defineTool({
  name: 'generate_image',
  title: 'Generate an image with an OpenRouter model',
  description:
    'Generate images from a prompt (and optional reference images) with an OpenRouter image model: each comes ' +
    'inline (size-capped) and as an expiring link, with the cost.',
  input: ImageInput,
  output: ImageOutput,
  annotations: PAID_CALL,
  paid: true,
  needsKey: true,
  upstream: 'image',
  logContext: (args, ctx) => ({ model: args.model, mcp_request_id: ctx.mcpReq.id }),
  run: async (args, ctx, deps) => {
    const result = await deps.openRouter.images(imageRequestBody(args), ctx.mcpReq.signal);
    return presentImages(args.model, result, await publishImages(result.data.map((d) => d.b64_json), deps));
  },
});

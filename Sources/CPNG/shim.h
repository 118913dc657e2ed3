// libpng 1.6 (Debian libpng-dev), through its simplified API: it reports errors in
// image->message instead of longjmp'ing through Swift frames, so no setjmp is needed here.
#include <stdlib.h>
#include <string.h>
#include <png.h>

/// Reads the header only: width, height and whether the file has an alpha channel.
/// Returns 0, or -1 with the reason in message (at least 64 bytes).
static inline int cil_png_header(const unsigned char *data, size_t size, int *width, int *height,
                                 int *has_alpha, char *message) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        strncpy(message, image.message, 63);
        png_image_free(&image);
        return -1;
    }
    *width = (int)image.width;
    *height = (int)image.height;
    *has_alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) ? 1 : 0;
    png_image_free(&image);
    return 0;
}

/// Decodes to 8-bit RGB, HWC: grey is replicated to three channels, palettes are expanded
/// and an alpha channel is dropped (not composited), as PIL's convert('RGB') does. On success
/// returns 0 and a malloc'd buffer in *pixels that the caller frees.
static inline int cil_png_decode_rgb(const unsigned char *data, size_t size, unsigned char **pixels,
                                     int *width, int *height, char *message) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    *pixels = NULL;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        strncpy(message, image.message, 63);
        png_image_free(&image);
        return -1;
    }
    int alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) ? 1 : 0;
    image.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    size_t w = image.width, h = image.height, channels = alpha ? 4 : 3;
    unsigned char *buffer = (unsigned char *)malloc(w * h * channels + 1);
    if (!buffer) { strcpy(message, "out of memory"); png_image_free(&image); return -1; }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        strncpy(message, image.message, 63);
        png_image_free(&image);
        free(buffer);
        return -1;
    }
    if (alpha) {
        for (size_t i = 0; i < w * h; i++) {
            buffer[i * 3] = buffer[i * 4];
            buffer[i * 3 + 1] = buffer[i * 4 + 1];
            buffer[i * 3 + 2] = buffer[i * 4 + 2];
        }
    }
    *pixels = buffer;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

/// Encodes HWC 8-bit pixels (1 grey, 3 RGB or 4 RGBA channels) as a PNG. On success returns 0
/// and a malloc'd PNG in *png that the caller frees.
static inline int cil_png_encode(const unsigned char *pixels, int width, int height, int channels,
                                 unsigned char **png, size_t *size, char *message) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    *png = NULL;
    *size = 0;
    png_alloc_size_t needed = 0;
    if (!png_image_write_to_memory(&image, NULL, &needed, 0, pixels, 0, NULL)) {
        strncpy(message, image.message, 63);
        return -1;
    }
    unsigned char *out = (unsigned char *)malloc(needed);
    if (!out) { strcpy(message, "out of memory"); return -1; }
    if (!png_image_write_to_memory(&image, out, &needed, 0, pixels, 0, NULL)) {
        strncpy(message, image.message, 63);
        free(out);
        return -1;
    }
    *png = out;
    *size = (size_t)needed;
    return 0;
}

// libjpeg-turbo (Debian libjpeg62-turbo-dev). libjpeg reports fatal errors through
// error_exit, which must not return; the default one calls exit(). Swift cannot longjmp,
// so decode and encode run in these two C helpers that catch errors with setjmp and hand
// back a message instead of ending the process.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

struct cil_jpeg_error {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
    char message[JMSG_LENGTH_MAX];
};

static void cil_jpeg_error_exit(j_common_ptr cinfo) {
    struct cil_jpeg_error *err = (struct cil_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

// Warnings stay silent, except that a premature end of data marks the image as truncated
// (PIL refuses such files too).
static void cil_jpeg_emit_message(j_common_ptr cinfo, int level) {
    struct cil_jpeg_error *err = (struct cil_jpeg_error *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        err->truncated = 1;
        (*cinfo->err->format_message)(cinfo, err->message);
    }
}

/// Decodes to 8-bit RGB, HWC. On success returns 0 and a malloc'd buffer in *pixels that
/// the caller frees; on failure returns -1 with the reason in message (JMSG_LENGTH_MAX).
static inline int cil_jpeg_decode_rgb(const unsigned char *data, unsigned long size,
                                      unsigned char **pixels, int *width, int *height,
                                      char *message) {
    struct jpeg_decompress_struct cinfo;
    struct cil_jpeg_error err;
    unsigned char *volatile out = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = cil_jpeg_error_exit;
    err.pub.emit_message = cil_jpeg_emit_message;
    *pixels = NULL;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(out);
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    // libjpeg cannot turn CMYK into RGB, and a naive conversion would be wrong colours.
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        strcpy(err.message, "a CMYK JPEG; convert it to RGB first (e.g. ImageMagick: convert in.jpg -colorspace sRGB out.jpg)");
        longjmp(err.jump, 1);
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    out = (unsigned char *)malloc(stride * cinfo.output_height);
    if (!out) { strcpy(err.message, "out of memory"); longjmp(err.jump, 1); }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (err.truncated) {
        free(out);
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        return -1;
    }
    *pixels = out;
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    return 0;
}

/// Reads the header only: size, and 1 when the image is CMYK/YCCK. Returns 0, or -1 with
/// the reason in message (JMSG_LENGTH_MAX).
static inline int cil_jpeg_header(const unsigned char *data, unsigned long size, int *width, int *height,
                                  int *cmyk, char *message) {
    struct jpeg_decompress_struct cinfo;
    struct cil_jpeg_error err;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = cil_jpeg_error_exit;
    err.pub.emit_message = cil_jpeg_emit_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, size);
    jpeg_read_header(&cinfo, TRUE);
    *width = (int)cinfo.image_width;
    *height = (int)cinfo.image_height;
    *cmyk = (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) ? 1 : 0;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

/// Encodes HWC 8-bit pixels (1 grey, 3 RGB or 4 CMYK channels; CMYK only for tests of
/// the decoder's refusal). On success returns 0 and a malloc'd JPEG
/// in *jpeg that the caller frees.
static inline int cil_jpeg_encode(const unsigned char *pixels, int width, int height, int channels,
                                  int quality, unsigned char **jpeg, unsigned long *size,
                                  char *message) {
    struct jpeg_compress_struct cinfo;
    struct cil_jpeg_error err;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = cil_jpeg_error_exit;
    err.pub.emit_message = cil_jpeg_emit_message;
    *jpeg = NULL;
    *size = 0;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        strncpy(message, err.message, JMSG_LENGTH_MAX - 1);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, jpeg, size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

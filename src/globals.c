/*
 * globals.c - DSM_SHARED global variables: the pages of every module's
 * "dsm_shared" and "dsm_shared_bss" sections, coherent like the region's.
 *
 * Design.  DSM_SHARED (dsm.h) puts a variable in the ELF section
 * "dsm_shared", page aligned, and pads each object file's share of it to
 * whole pages, so a module's section is whole pages that hold nothing else.
 * `dsmcc --share-globals` renames an object's .data* to "dsm_shared" and its
 * .bss* to "dsm_shared_bss", padded alike; the second stays NOBITS (a zeroed
 * array costs no file space), which is why it is a section of its own: the
 * linker would store a NOBITS input in the file once it shared an output
 * section with PROGBITS ones.  A module may thus have two shared ranges;
 * each is an entry of mods[] (the same module, path and build id).
 * With address-space randomisation off (dsmexec starts every rank so) and the
 * same binaries, each section lies at the same address on every rank.
 *
 * globals_scan() walks the loaded modules (dl_iterate_phdr) and reads each
 * one's section headers from its file to find the section; the pages of all
 * sections get page numbers after the region's (rt.region_pages ...
 * rt.npages - 1), so the coherence engine, the directory and the backends
 * treat them like region pages: page_addr() and addr_page() (runtime.h)
 * translate, and page_home() puts their home at rank 0.  globals_map() keeps
 * rank 0's contents aside and hands each range to the fault backend (uffd: an
 * anonymous mapping registered with the same userfaultfd; sigsegv: the
 * region's memfd, grown, mapped over the section), every page absent;
 * globals_install() makes rank 0's non-zero pages owned by rank 0, as a
 * checkpoint's pages are (coh_ckpt_install); zero pages stay untouched
 * ("virgin") at their home.  Other ranks' contents are dropped.
 *
 * The layout check: each rank describes its layout in text lines, one per
 * module that matters (the program always, and every module with a
 * section): kind, build id (NT_GNU_BUILD_ID, else a hash of the file), load
 * address, section address and size, path.  Ranks other than 0 send theirs
 * to rank 0 (WIRE_LAYOUT) just before the first BARRIER_ENTER of dsm_init;
 * rank 0 compares before it can release that barrier and, on a difference,
 * ends the job with a message naming both ranks and the difference.  A
 * program without DSM_SHARED variables loaded at another address (ASLR on)
 * is allowed, since nothing shared depends on it, and noted at info level.
 *
 * Locking: the tables here are written by dsm_init before the service
 * thread starts and only read afterwards (the SIGSEGV handler included).
 */
#include "globals.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <unistd.h>

#include "coherence.h"
#include "fault.h"
#include "log.h"
#include "rc.h"
#include "runtime.h"
#include "transport.h"
#include "wire.h"

#define MAX_MODS 64
#define LAYOUT_MAX 16384
/* The shared sections a module may have (dsm.h's DSM_SHARED, dsmcc). */
static const char *const SECTIONS[] = { "dsm_shared", "dsm_shared_bss", "dsm_shared_rc" };
#define SECTION_RC 2 /* DSM_SHARED_RC: release-consistent */
#define NSECTIONS (sizeof(SECTIONS) / sizeof(SECTIONS[0]))

struct gmod {
	char kind;           /* 'x' the program, 'l' a library */
	char id[129];        /* build id, hex */
	uintptr_t base;      /* load address */
	uintptr_t sec;       /* the section, or 0 */
	size_t len;
	uint64_t first_page;
	int rc;              /* the release-consistent section */
	int mapped;
	char path[PATH_MAX];
};

static struct gmod mods[MAX_MODS];
static unsigned n_mods;
static uint64_t g_pages, g_rc_first, g_rc_end;
static uint8_t *saved;                /* rank 0: the sections' contents, in page order */
static char layout[LAYOUT_MAX];
static size_t layout_len;

/* ---- finding the sections --------------------------------------------- */

static void hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* NT_GNU_BUILD_ID from the module's loaded notes; 0 when it has one. */
static int build_id_mem(const struct dl_phdr_info *info, char *out)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		size_t align = ph->p_align == 8 ? 8 : 4;
		const uint8_t *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*n);
			const uint8_t *desc = name + ((n->n_namesz + align - 1) & ~(align - 1));

			if (desc + n->n_descsz > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
			    n->n_descsz > 0 && n->n_descsz <= 64) {
				hex(out, desc, n->n_descsz);
				return 0;
			}
			p = desc + ((n->n_descsz + align - 1) & ~(align - 1));
		}
	}
	return -ENOENT;
}

/* Without a build id: a hash of the file. */
static int build_id_file(int fd, char *out)
{
	crypto_generichash_state st;
	uint8_t buf[65536], h[32];
	off_t off = 0;
	ssize_t n;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		crypto_generichash_update(&st, buf, (size_t)n);
		off += n;
	}
	if (n < 0)
		return -errno;
	crypto_generichash_final(&st, h, sizeof(h));
	strcpy(out, "file:");
	hex(out + 5, h, 16);
	return 0;
}

/* The module's shared sections from its file's section headers: sec[k] and
 * len[k] (unrelocated) for SECTIONS[k], 0 and 0 when it has none.  -errno
 * when the file cannot be read as ELF. */
static int find_sections(int fd, uintptr_t sec[NSECTIONS], size_t len[NSECTIONS])
{
	ElfW(Ehdr) eh;
	ElfW(Shdr) *sh = NULL, *strsh;
	char *names = NULL;
	int rc = -ENOEXEC;

	for (size_t k = 0; k < NSECTIONS; k++) {
		sec[k] = 0;
		len[k] = 0;
	}
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
	    eh.e_shentsize != sizeof(ElfW(Shdr)))
		return rc;
	if (eh.e_shoff == 0 || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
		return 0; /* no section headers (sstrip'ed): no section we can find */
	sh = malloc((size_t)eh.e_shnum * sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	if (pread(fd, sh, (size_t)eh.e_shnum * sizeof(*sh), (off_t)eh.e_shoff) !=
	    (ssize_t)(eh.e_shnum * sizeof(*sh)))
		goto out;
	strsh = &sh[eh.e_shstrndx];
	if (strsh->sh_size > (1u << 24) || !(names = malloc(strsh->sh_size + 1)))
		goto out;
	if (pread(fd, names, strsh->sh_size, (off_t)strsh->sh_offset) != (ssize_t)strsh->sh_size)
		goto out;
	names[strsh->sh_size] = '\0';
	rc = 0;
	for (unsigned i = 0; i < eh.e_shnum; i++)
		for (size_t k = 0; k < NSECTIONS; k++)
			if (sh[i].sh_name < strsh->sh_size && !strcmp(names + sh[i].sh_name, SECTIONS[k]) &&
			    (sh[i].sh_flags & SHF_ALLOC) && sh[i].sh_size) {
				sec[k] = sh[i].sh_addr;
				len[k] = sh[i].sh_size;
			}
out:
	free(names);
	free(sh);
	return rc;
}

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	int *err = arg, first = n_mods == 0 && !*err;
	struct gmod m = { .kind = first ? 'x' : 'l', .base = info->dlpi_addr };
	const char *file = first ? "/proc/self/exe" : info->dlpi_name;
	uintptr_t sec[NSECTIONS];
	size_t len[NSECTIONS], any = 0;
	int fd, rc;

	(void)size;
	if (*err)
		return 1;
	if (!file || !*file)
		return 0; /* the vdso and the like */
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (first) {
			log_err("cannot read the program (%s): %s", file, strerror(errno));
			*err = -errno;
			return 1;
		}
		return 0; /* not a file: nothing of ours */
	}
	rc = find_sections(fd, sec, len);
	if (rc < 0 && rc != -ENOEXEC) {
		log_err("reading the sections of %s: %s", file, strerror(-rc));
		*err = rc;
		goto out;
	}
	for (size_t k = 0; k < NSECTIONS; k++)
		any += len[k];
	if (!first && any == 0)
		goto out;
	if (first) {
		ssize_t n = readlink(file, m.path, sizeof(m.path) - 1);
		m.path[n > 0 ? n : 0] = '\0';
	} else {
		snprintf(m.path, sizeof(m.path), "%s", info->dlpi_name);
	}
	if (build_id_mem(info, m.id) && (rc = build_id_file(fd, m.id))) {
		log_err("reading %s: %s", m.path, strerror(-rc));
		*err = rc;
		goto out;
	}
	/* One entry per shared section; the program has one even without. */
	for (size_t k = 0; k < NSECTIONS; k++) {
		if (!len[k] && (any || k > 0))
			continue;
		m.sec = len[k] ? info->dlpi_addr + sec[k] : 0;
		m.len = len[k];
		if ((m.sec | m.len) & (DSM_PAGE_SIZE - 1)) {
			log_err("%s: its DSM_SHARED variables (%s, %#lx, %zu bytes) are not whole pages: was it "
				"built with this dsm.h (or dsmcc)?", m.path, SECTIONS[k], (unsigned long)m.sec, m.len);
			*err = -ENOEXEC;
			goto out;
		}
		if (m.len && m.sec < rt.base + rt.region_size && rt.base < m.sec + m.len) {
			log_err("%s: its DSM_SHARED variables (%#lx, %zu bytes) overlap the region: choose "
				"another DSM_BASE", m.path, (unsigned long)m.sec, m.len);
			*err = -EINVAL;
			goto out;
		}
		m.rc = k == SECTION_RC;
		if (n_mods == MAX_MODS) {
			log_err("more than %d libraries with DSM_SHARED variables", MAX_MODS - 1);
			*err = -E2BIG;
			goto out;
		}
		mods[n_mods++] = m;
	}
out:
	close(fd);
	return *err != 0;
}

#if defined(__x86_64__)
#define COPY_RELOC R_X86_64_COPY
#elif defined(__aarch64__)
#define COPY_RELOC R_AARCH64_COPY
#endif

/* The module (a library with DSM_SHARED variables) whose section holds the
 * library's own definition of `name`, or NULL. */
static const struct gmod *defined_in_section(const char *name)
{
	for (unsigned i = 1; i < n_mods; i++) {
		void *h = mods[i].kind == 'l' ? dlopen(mods[i].path, RTLD_LAZY | RTLD_NOLOAD) : NULL;
		uintptr_t a = h ? (uintptr_t)dlsym(h, name) : 0;

		if (h)
			dlclose(h);
		if (a && a - mods[i].sec < mods[i].len)
			return &mods[i];
	}
	return NULL;
}

/*
 * A program that refers to a library's DSM_SHARED variable directly holds a
 * copy of it among its own variables (a copy relocation), which everyone,
 * the library included, then uses instead of the shared one.  Refuse it,
 * naming the variable.  -ENOEXEC, or 0.
 */
static int check_copy_relocs(void)
{
#ifdef COPY_RELOC
	ElfW(Ehdr) eh;
	ElfW(Shdr) *sh = NULL;
	int fd, rc = 0;

	if (mods[n_mods - 1].kind != 'l')
		return 0; /* no library has DSM_SHARED variables */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || eh.e_shentsize != sizeof(ElfW(Shdr)) ||
	    !eh.e_shnum || !(sh = calloc(eh.e_shnum, sizeof(*sh))) ||
	    pread(fd, sh, eh.e_shnum * sizeof(*sh), (off_t)eh.e_shoff) != (ssize_t)(eh.e_shnum * sizeof(*sh)))
		goto out;
	for (unsigned i = 0; i < eh.e_shnum && !rc; i++) {
		ElfW(Shdr) *symh, *strh;
		ElfW(Rela) *rel = NULL;
		ElfW(Sym) *syms = NULL;
		char *str = NULL;

		if (sh[i].sh_type != SHT_RELA || !(sh[i].sh_flags & SHF_ALLOC) || sh[i].sh_link >= eh.e_shnum)
			continue;
		symh = &sh[sh[i].sh_link];
		if (symh->sh_link >= eh.e_shnum)
			continue;
		strh = &sh[symh->sh_link];
		rel = malloc(sh[i].sh_size);
		syms = malloc(symh->sh_size);
		str = malloc(strh->sh_size + 1);
		if (rel && syms && str &&
		    pread(fd, rel, sh[i].sh_size, (off_t)sh[i].sh_offset) == (ssize_t)sh[i].sh_size &&
		    pread(fd, syms, symh->sh_size, (off_t)symh->sh_offset) == (ssize_t)symh->sh_size &&
		    pread(fd, str, strh->sh_size, (off_t)strh->sh_offset) == (ssize_t)strh->sh_size) {
			str[strh->sh_size] = '\0';
			for (size_t k = 0; k < sh[i].sh_size / sizeof(*rel) && !rc; k++) {
				size_t sym = ELF64_R_SYM(rel[k].r_info);
				const struct gmod *m;
				const char *name;

				if (ELF64_R_TYPE(rel[k].r_info) != COPY_RELOC || sym >= symh->sh_size / sizeof(*syms) ||
				    syms[sym].st_name >= strh->sh_size)
					continue;
				name = str + syms[sym].st_name;
				if ((m = defined_in_section(name))) {
					log_err("the program holds its own copy of %s, a DSM_SHARED variable of %s, "
						"so it would not be shared: declare it with DSM_SHARED_EXTERN and "
						"build a PIE, or build with -mno-direct-extern-access (gcc) or "
						"-fno-direct-access-external-data (clang)", name, m->path);
					rc = -ENOEXEC;
				}
			}
		}
		free(rel);
		free(syms);
		free(str);
	}
out:
	free(sh);
	close(fd);
	return rc;
#else
	return 0;
#endif
}

int globals_scan(void)
{
	int err = 0;

	n_mods = 0;
	g_pages = g_rc_first = g_rc_end = 0;
	layout_len = 0;
	dl_iterate_phdr(scan_one, &err);
	if (err)
		return err;
	if ((err = check_copy_relocs()))
		return err;
	/* Page numbers after the region's: the sequentially consistent
	 * sections first, then the release-consistent ones, so that those are
	 * one range (rc_page()). */
	for (int rc = 0; rc <= 1; rc++) {
		if (rc)
			g_rc_first = rt.region_pages + g_pages;
		for (unsigned i = 0; i < n_mods; i++)
			if (mods[i].rc == rc) {
				mods[i].first_page = rt.region_pages + g_pages;
				g_pages += mods[i].len >> DSM_PAGE_SHIFT;
			}
	}
	g_rc_end = rt.region_pages + g_pages;
	rt.npages = rt.region_pages + g_pages;
	for (unsigned i = 0; i < n_mods; i++) {
		struct gmod *m = &mods[i];
		int n = snprintf(layout + layout_len, sizeof(layout) - layout_len, "%c %s %#lx %#lx %zu %s\n",
				 m->kind, m->id, (unsigned long)m->base, (unsigned long)m->sec, m->len, m->path);
		if (n < 0 || (size_t)n >= sizeof(layout) - layout_len) {
			log_err("the description of this program's modules exceeds %d bytes", LAYOUT_MAX);
			return -E2BIG;
		}
		layout_len += (size_t)n;
		if (m->len)
			log_info("DSM_SHARED%s variables of %s: %#lx + %zu bytes, pages %" PRIu64 "..%" PRIu64,
				 m->rc ? "_RC" : "", m->path, (unsigned long)m->sec, m->len, m->first_page,
				 m->first_page + (m->len >> DSM_PAGE_SHIFT) - 1);
	}
	if (rt.size > 1 && !(personality(0xffffffff) & ADDR_NO_RANDOMIZE))
		log_info("address-space randomisation is on in this rank (dsmexec turns it off)");
	return 0;
}

void globals_rc_range(uint64_t *first, uint64_t *end)
{
	*first = g_rc_first;
	*end = g_rc_end;
}

int globals_module(unsigned i, struct globals_module_info *m)
{
	if (i >= n_mods)
		return -ENOENT;
	*m = (struct globals_module_info){ .kind = mods[i].kind, .id = mods[i].id, .path = mods[i].path,
					   .base = mods[i].base, .sec = mods[i].sec, .len = mods[i].len,
					   .first_page = mods[i].first_page, .section = mods[i].rc ?
					   SECTIONS[SECTION_RC] : SECTIONS[0] };
	return 0;
}

/* ---- the pages --------------------------------------------------------- */

void *globals_page_addr(uint64_t page)
{
	for (unsigned i = 0; i < n_mods; i++) {
		const struct gmod *m = &mods[i];
		if (page - m->first_page < (m->len >> DSM_PAGE_SHIFT))
			return (void *)(m->sec + ((page - m->first_page) << DSM_PAGE_SHIFT));
	}
	return (void *)(rt.base + (page << DSM_PAGE_SHIFT)); /* not a global: as before */
}

uint64_t globals_addr_page(uintptr_t a)
{
	for (unsigned i = 0; i < n_mods; i++) {
		const struct gmod *m = &mods[i];
		if (m->mapped && a - m->sec < m->len)
			return m->first_page + ((a - m->sec) >> DSM_PAGE_SHIFT);
	}
	return GLOBALS_NO_PAGE;
}

int globals_map(void)
{
	int rc = 0;

	if (!g_pages)
		return 0;
	if (rt.rank == 0) {
		/* calloc: a large block comes zeroed from mmap, so the pages of a
		 * zeroed array (dsmcc's .bss) that are skipped below cost nothing */
		saved = calloc(g_pages, DSM_PAGE_SIZE);
		if (!saved) {
			log_err("no memory to keep the DSM_SHARED variables' %" PRIu64 " pages", g_pages);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < n_mods; i++) {
		struct gmod *m = &mods[i];
		if (!m->len)
			continue;
		for (size_t off = 0; saved && off < m->len; off += DSM_PAGE_SIZE)
			if (!page_all_zero((const uint8_t *)m->sec + off))
				memcpy(saved + ((m->first_page - rt.region_pages) << DSM_PAGE_SHIFT) + off,
				       (const uint8_t *)m->sec + off, DSM_PAGE_SIZE);
		if (rt.be == &fault_uffd)
			rc = fault_uffd_map_extra(m->sec, m->len);
		else
			rc = fault_segv_map_extra(m->sec, m->len, m->first_page);
		if (rc) {
			log_err("cannot share the DSM_SHARED variables of %s", m->path);
			globals_unmap();
			return rc;
		}
		m->mapped = 1;
	}
	return 0;
}

int globals_install(void)
{
	uint64_t restored = 0;

	if (!saved)
		return 0;
	for (uint64_t k = 0; k < g_pages; k++) {
		const uint8_t *data = saved + (k << DSM_PAGE_SHIFT);
		int rc;

		if (page_all_zero(data))
			continue; /* untouched at its home: zeros */
		rc = rc_page(rt.region_pages + k) ? rc_ckpt_install(rt.region_pages + k, data) :
						    coh_ckpt_install(rt.region_pages + k, data);
		if (rc == -EEXIST) {
			restored++; /* DSM_RESTART brought this page back: the checkpoint wins */
			continue;
		}
		if (rc) {
			log_err("cannot install page %" PRIu64 " of the DSM_SHARED variables: %s", k, strerror(-rc));
			return rc;
		}
	}
	if (restored)
		log_info("%" PRIu64 " pages of DSM_SHARED variables come from the checkpoint", restored);
	free(saved);
	saved = NULL;
	return 0;
}

void globals_unmap(void)
{
	int any = 0;

	for (unsigned i = 0; i < n_mods; i++) {
		struct gmod *m = &mods[i];
		if (!m->mapped)
			continue;
		if (rt.be == &fault_uffd)
			fault_uffd_unmap_extra(m->sec, m->len);
		else
			fault_segv_unmap_extra(m->sec, m->len);
		m->mapped = 0;
		any = 1;
	}
	if (any && rt.be == &fault_segv)
		fault_segv_unmap_extras();
	free(saved);
	saved = NULL;
}

/* ---- the layout check --------------------------------------------------- */

void globals_send_layout(void)
{
	struct wire_hdr h = { .type = WIRE_LAYOUT, .len = (uint32_t)layout_len };

	if (rt.rank != 0 && layout_len)
		tp_send(0, &h, layout);
}

/* One line of a layout: 0, or -EBADMSG. */
static int parse_line(const char *s, size_t n, struct gmod *m)
{
	char buf[PATH_MAX + 256];
	unsigned long base, sec;
	int used = 0;

	if (n >= sizeof(buf))
		return -EBADMSG;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(m, 0, sizeof(*m));
	if (sscanf(buf, "%c %128s %lx %lx %zu %n", &m->kind, m->id, &base, &sec, &m->len, &used) != 5 || !used ||
	    (m->kind != 'x' && m->kind != 'l'))
		return -EBADMSG;
	m->base = base;
	m->sec = sec;
	snprintf(m->path, sizeof(m->path), "%s", buf + used);
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* A difference between rank `r`'s modules and ours, in `why`; 0 none. */
static int compare(int r, const struct gmod *theirs, unsigned n, char *why, size_t len)
{
	const char *fix = "start every rank with address-space randomisation off (dsmexec does; by hand: "
			  "setarch -R)";
	unsigned mine_sec = 0, their_sec = 0;

	if (n == 0 || theirs[0].kind != 'x')
		return snprintf(why, len, "rank %d sent a layout without its program", r), 1;
	if (strcmp(theirs[0].id, mods[0].id))
		return snprintf(why, len, "rank %d runs another program than rank 0: %.100s (build %.16s) there, %.100s "
			 "(build %.16s) here; every rank must run the same binary", r, theirs[0].path,
			 theirs[0].id, mods[0].path, mods[0].id), 1;
	for (unsigned i = 0; i < n_mods; i++)
		mine_sec += mods[i].len != 0;
	for (unsigned i = 0; i < n; i++)
		their_sec += theirs[i].len != 0;
	for (unsigned i = 0, j = 0; i < n_mods || j < n; i++, j++) {
		if (i >= n_mods || j >= n)
			return snprintf(why, len, "rank %d has DSM_SHARED variables in %u modules, rank 0 in %u "
				 "(first difference: %.100s)", r, their_sec, mine_sec,
				 i < n_mods ? base_name(mods[i].path) : base_name(theirs[j].path)), 1;
		if (strcmp(base_name(mods[i].path), base_name(theirs[j].path)))
			return snprintf(why, len, "rank %d has DSM_SHARED variables in %.100s where rank 0 has them in "
				 "%.100s", r, base_name(theirs[j].path), base_name(mods[i].path)), 1;
		if (strcmp(mods[i].id, theirs[j].id))
			return snprintf(why, len, "rank %d runs another build of %.100s than rank 0 (build %.16s there, "
				 "%.16s here)", r, base_name(mods[i].path), theirs[j].id, mods[i].id), 1;
		if (mods[i].sec != theirs[j].sec || mods[i].len != theirs[j].len)
			return snprintf(why, len, "rank %d has the DSM_SHARED variables of %.100s at %#lx (%zu bytes), "
				 "rank 0 at %#lx (%zu bytes): %.100s", r, base_name(mods[i].path),
				 (unsigned long)theirs[j].sec, theirs[j].len, (unsigned long)mods[i].sec,
				 mods[i].len, fix), 1;
	}
	if (theirs[0].base != mods[0].base)
		log_info("rank %d has the program at %#lx, rank 0 at %#lx: the addresses of its functions "
			 "differ between these ranks (%s)", r, (unsigned long)theirs[0].base,
			 (unsigned long)mods[0].base, fix);
	return 0;
}

void globals_handle(const struct wire_hdr *h, const uint8_t *payload)
{
	static struct gmod theirs[MAX_MODS];
	const char *p = (const char *)payload, *end = p + h->len;
	char why[480];
	unsigned n = 0;
	int r = (int)h->src;

	if (h->type != WIRE_LAYOUT || rt.rank != 0)
		rt_fatal("rank %d sent %s to rank %d, not to rank 0", r, wire_type_name(h->type), rt.rank);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || n == MAX_MODS || parse_line(p, (size_t)(nl - p), &theirs[n]))
			rt_fatal("rank %d sent a malformed layout (line %u)", r, n + 1);
		n++;
		p = nl + 1;
	}
	if (!compare(r, theirs, n, why, sizeof(why))) {
		log_debug("rank %d has the same layout as rank 0", r);
		return;
	}
	/* Tell everyone why, then end the job. */
	for (int i = 0; i < rt.size; i++) {
		struct wire_hdr a = { .type = WIRE_ABORT, .len = (uint32_t)strlen(why) };
		if (i != rt.rank)
			tp_send(i, &a, why);
	}
	usleep(200000); /* let the ABORTs leave before the connections close */
	rt_fatal("layout mismatch: %s", why);
}

using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>
/// The system calls the VMM makes on memory (mm/filemap.c and mm/shmem.c read/write, mm/madvise.c,
/// fallocate, mm/mmap.c mmap/munmap, kernel/fork.c, kernel/exit.c, /proc/pid/mem and process_vm_readv,
/// copy_to_user), and the lifetime of the files behind the VMs, on top of <see cref="HostKernel"/>.
/// </summary>
internal sealed class Syscalls
{
    private readonly HostKernel _kernel;
    private readonly List<Pfn> _gupScratch = [];

    public Syscalls(HostKernel kernel) => _kernel = kernel;

    private FrameTable Frames => _kernel.Mm.Frames;
    private Process Vmm => _kernel.Vmm;

    /// <summary>pread(2)/pwrite(2) on a backing file: the page cache side (K21, K22, hugetlbfs V row, guest_memfd EINVAL).</summary>
    internal KernelResult FileReadWrite(BackingFile file, ulong offset, Span<byte> buffer, bool write)
    {
        if (file.Kind == BackingKind.GuestMemfd) return Outcome.Error(Errno.EINVAL);
        var done = 0;
        foreach (var span in new PageSpans(offset, buffer))
        {
            var pos = span.Address;
            if (pos >= file.SizeBytes) break;
            // The last page's piece ends at EOF.
            var chunk = (ulong)span.Chunk.Length > file.SizeBytes - pos ? span.Chunk[..(int)(file.SizeBytes - pos)] : span.Chunk;
            var pfn = _kernel.PageCache.GetPage(file, span.PageIndex, create: write);
            // ≥6.6 hugetlbfs_read_iter (adjust_range_hwpoison): the healthy subpages of a poisoned huge page read up to the raw one.
            var healthySubpage = !write && file.IsHugetlb && _kernel.Version.AtLeast(6, 6) && !_kernel.MemoryFailure.IsRawHwPoison(pfn);
            if (pfn.IsValid && Frames.Has(_kernel.Mm.Head(pfn), FrameFlags.HwPoison) && file.Kind != BackingKind.File && !healthySubpage)
            {
                // shmem_file_read_iter / shmem_write_begin / hugetlbfs_read_iter: a poisoned page gives -EIO.
                return done == 0 ? Outcome.Error(Errno.EIO) : write ? Outcome.OkCount(done) : Outcome.OkDataCount(buffer[..done].ToArray(), done);
            }
            if (pfn.IsValid && _kernel.PageCachePolicy.OnPageCacheLookup(new PageCacheLookup(pfn, Syscall: true, GuestVma: false, GupFlags.None)) is not 0 and var refused)
                return done == 0 ? Outcome.Error(refused) : write ? Outcome.OkCount(done) : Outcome.OkDataCount(buffer[..done].ToArray(), done);
            if (!pfn.IsValid)
            {
                if (write) return done == 0 ? Outcome.Error(Errno.ENOSPC) : Outcome.OkCount(done);
                chunk.Clear(); // a hole (or a truncated page on ≤5.15: K22) reads as zeros
            }
            else
            {
                var result = _kernel.Mm.KernelAccess(pfn, span.PageOffset, chunk, write);
                if (!result.IsOk) return result;
                if (write) Frames.SetFlags(pfn, FrameFlags.Dirty);
            }
            done += chunk.Length;
        }
        return write ? Outcome.OkCount(done) : Outcome.OkDataCount(buffer[..done].ToArray(), done);
    }

    /// <summary>
    /// copy_to_user / copy_from_user on the caller's own mapping: a fault the handler cannot fix (a hwpoison
    /// entry, K6) or poison consumed by an MC-safe copy ends the copy; the syscall sees a short count and
    /// nobody is signalled (exception fixup). Returns the bytes copied.
    /// </summary>
    internal int UserCopy(Process p, ulong va, Span<byte> buffer, bool toUser)
    {
        var done = 0;
        foreach (var span in new PageSpans(va, buffer))
        {
            var addr = span.Address;
            var entry = p.PageTable.Lookup(addr, out var size);
            if (!entry.IsPresent || (toUser && !entry.IsWritable))
            {
                if (_kernel.FaultHandler.HandleMmFault(p, addr, toUser, GupFlags.None, entry, size, out _) != VmFault.Ok) break;
                entry = p.PageTable.Lookup(addr, out size);
                if (!entry.IsPresent) break;
            }
            var access = new LineAccess(MemoryManager.LeafPfn(entry, size, addr), span.PageOffset, KeyId.Shared, Requester.HostKernel);
            _kernel.StepFrames.Note(access.Pfn);
            var result = toUser ? _kernel.Memory.Write(access, span.Chunk) : _kernel.Memory.Read(access, span.Chunk);
            if (!result.IsOk) break;
            done += span.Chunk.Length;
        }
        return done;
    }

    /// <summary>
    /// access_remote_vm (/proc/pid/mem, K7) and process_vm_readv (K8): GUP each page of the target, copy
    /// through the kernel. A failure after some bytes gives a short count; before any, EIO or EFAULT.
    /// </summary>
    internal KernelResult RemoteAccess(Process target, ulong va, Span<byte> buffer, bool write, bool procMem)
    {
        var flags = (procMem ? GupFlags.Force : GupFlags.None) | GupFlags.Remote | (write ? GupFlags.Write : GupFlags.None);
        foreach (var span in new PageSpans(va, buffer))
        {
            var done = span.BufferOffset;
            _gupScratch.Clear();
            if (_kernel.FaultHandler.GetUserPages(target, span.Address, 1, flags, _gupScratch, out _) == 0)
            {
                if (done > 0) return write ? Outcome.OkCount(done) : Outcome.OkDataCount(buffer[..done].ToArray(), done);
                return Outcome.Error(procMem ? Errno.EIO : Errno.EFAULT);
            }
            var pfn = _gupScratch[0];
            var result = _kernel.Mm.KernelAccess(pfn, span.PageOffset, span.Chunk, write);
            _kernel.Mm.PutPage(pfn);
            if (!result.IsOk) return result;
        }
        return write ? Outcome.OkCount(buffer.Length) : Outcome.OkDataCount(buffer.ToArray(), buffer.Length);
    }

    /// <summary>
    /// The kernel write a design with bounced VMM writes gives the VMM instead of a writable mapping of guest memory
    /// (<see cref="VmmProtection.ReadOnlyBounced"/>): one system call that copies the data into a kernel buffer and
    /// writes it page by page through the kernel's mapping, stopping with EFAULT at the first page the guest holds
    /// private (what was written before it stays, as a short write).
    /// </summary>
    internal KernelResult BouncedWrite(Process p, Vma vma, ulong va, Span<byte> data)
    {
        _kernel.CostLedger.Add(CostKind.BouncedWrite);
        var vm = _kernel.Kvm.VmList[vma.Vm.Value];
        foreach (var span in new PageSpans(va, data))
        {
            if (vma.Contains(span.Address) && vm.IsPrivate(new Gfn((span.Address - vma.Start) >> PageGeometry.PageShift)))
                return span.BufferOffset > 0 ? Outcome.OkCount(span.BufferOffset) : Outcome.Error(Errno.EFAULT);
            _kernel.CostLedger.Add(CostKind.PageCopy); // the bounce: the kernel buffer's copy of this page's part
            var result = RemoteAccess(p, span.Address, span.Chunk, write: true, procMem: false);
            if (!result.IsOk) return result;
        }
        return Outcome.Ok();
    }

    /// <summary>madvise(2) as root over [va, va+size).</summary>
    internal Outcome Madvise(Process p, ulong va, ulong size, string advice)
    {
        if (size > ulong.MaxValue - va) return Outcome.Error(Errno.EINVAL); // madvise: a range that wraps
        var start = va & ~(ulong)(PageGeometry.PageSize - 1);
        var end = va + size;
        if (p.FindVma(start) is null) return Outcome.Error(Errno.ENOMEM);
        switch (advice)
        {
            case "HWPOISON":
            case "SOFT_OFFLINE":
            {
                for (var a = start; a < end; a += PageGeometry.PageSize)
                {
                    // madvise_inject_error: get_user_pages_fast(start, 1, 0, &page), then memory_failure / soft_offline_page.
                    _gupScratch.Clear();
                    if (_kernel.FaultHandler.GetUserPages(p, a, 1, GupFlags.Fast, _gupScratch, out var error) == 0) return Outcome.Error(error);
                    var pfn = _gupScratch[0];
                    var step = Frames.Has(pfn, FrameFlags.Hugetlb) ? PageGeometry.HugeSize : PageGeometry.PageSize;
                    // MF_COUNT_INCREASED: the GUP reference is the one memory_failure holds, so a THP split
                    // sees no extra reference. Drop it first; the mapping keeps the page alive.
                    _kernel.Mm.PutPage(pfn);
                    Errno rc;
                    if (advice == "HWPOISON")
                    {
                        var ar = _kernel.Version.AtLeast(6, 11); // MF_ACTION_REQUIRED since 6.11: the caller gets SIGBUS at once
                        rc = _kernel.MemoryFailure.Handle(pfn, ar, p, new Hva(a), simulated: true);
                    }
                    else
                    {
                        rc = _kernel.MemoryFailure.SoftOffline(pfn);
                    }
                    if (rc is not 0 and not Errno.EOPNOTSUPP) return Outcome.Error(rc);
                    if (step == PageGeometry.HugeSize) a = (a & ~(PageGeometry.HugeSize - 1)) + PageGeometry.HugeSize - PageGeometry.PageSize;
                }
                return Outcome.Ok();
            }
            case "DONTNEED":
                _kernel.Mm.ZapRange(p, new Hva(start), new Hva(end));
                return Outcome.Ok();
            case "HUGEPAGE":
            case "NOHUGEPAGE":
                foreach (var vma in p.Vmas)
                {
                    if (vma.End <= start || vma.Start >= end) continue;
                    vma.HugePage = advice == "HUGEPAGE";
                    vma.NoHugePage = advice == "NOHUGEPAGE";
                }
                return Outcome.Ok();
            default:
                return Outcome.Error(Errno.EINVAL);
        }
    }

    /// <summary>fallocate(2) on a backing file: PUNCH_HOLE (with KEEP_SIZE) frees the range; otherwise preallocates.</summary>
    internal Outcome Fallocate(BackingFile file, ulong offset, ulong size, bool punchHole, bool keepSize)
    {
        // kvm_gmem_fallocate: KEEP_SIZE is required (EOPNOTSUPP), then page alignment (EINVAL), and nothing past i_size.
        if (file.Kind == BackingKind.GuestMemfd && !keepSize) return Outcome.Error(Errno.EOPNOTSUPP);
        if ((offset | size) % PageGeometry.PageSize != 0 && file.Kind == BackingKind.GuestMemfd) return Outcome.Error(Errno.EINVAL);
        if (file.Kind == BackingKind.GuestMemfd && (offset > file.SizeBytes || size > file.SizeBytes - offset)) return Outcome.Error(Errno.EINVAL);
        if (punchHole && !keepSize) return Outcome.Error(Errno.EOPNOTSUPP);
        // vfs_fallocate: offset and len are loff_t; len 0 or a negative value is EINVAL, an end past s_maxbytes EFBIG.
        if (size == 0 || offset > long.MaxValue || size > long.MaxValue) return Outcome.Error(Errno.EINVAL);
        if (offset + size > long.MaxValue) return Outcome.Error(Errno.EFBIG);
        var first = offset >> PageGeometry.PageShift;
        var last = Math.Min(file.Pages, (offset + size + PageGeometry.PageSize - 1) >> PageGeometry.PageShift);
        if (punchHole)
        {
            // unmap_mapping_range(even_cows = 0), then truncate the cache: mapped copies go first, then the
            // cache's reference; hwpoison entries stay (K27), so the next touch still gets SIGBUS.
            UnmapMappingRange(file, first, last);
            // kvm_gmem_punch_hole: every EPT of the bound VM loses the range before the folios are truncated.
            if (file.Kind == BackingKind.GuestMemfd) _kernel.Kvm.GmemInvalidate(file, first, last);
            foreach (var index in file.CachedIndexes(first, last)) _kernel.PageCache.Remove(file, index);
            return Outcome.Ok();
        }
        for (var index = first; index < last; index++)
            if (!_kernel.PageCache.GetPage(file, index, create: true).IsValid) return Outcome.Error(Errno.ENOSPC);
        return Outcome.Ok();
    }

    /// <summary>unmap_mapping_range: zap every process's mappings of the file's pages [first, last).</summary>
    private void UnmapMappingRange(BackingFile file, ulong first, ulong last)
    {
        foreach (var p in _kernel.Processes)
        {
            foreach (var vma in p.Vmas.ToList())
            {
                if (vma.File != file) continue;
                var from = Math.Max(first, vma.PgOff);
                var to = Math.Min(last, vma.PgOff + ((vma.End - vma.Start) >> PageGeometry.PageShift));
                if (to > from) _kernel.Mm.ZapRange(p, new Hva(vma.Start + ((from - vma.PgOff) << PageGeometry.PageShift)), new Hva(vma.Start + ((to - vma.PgOff) << PageGeometry.PageShift)), evenCows: false);
            }
        }
    }

    /// <summary>unmap_mapping_range on one of a VM's files over a gpa range.</summary>
    internal void VmUnmapMappingRange(Vm vm, VmFile which, ulong gpa, ulong size)
    {
        var file = which == VmFile.GuestMemfd ? vm.GuestMemfd : vm.File;
        if (file is null || size == 0) return;
        UnmapMappingRange(file, gpa >> PageGeometry.PageShift, (gpa + size + PageGeometry.PageSize - 1) >> PageGeometry.PageShift);
    }

    /// <summary>
    /// A second shared mapping of a VM's backing file in the VMM (MAP_FIXED over whatever was at
    /// <paramref name="fixedAt"/>); OkCount(its address), or mmap(2)'s errno: EINVAL for a zero length or an
    /// unaligned offset or address, ENOMEM when the mapping would not end inside user space.
    /// </summary>
    internal Outcome MmapBacking(Vm vm, ulong offset, ulong size, ulong? fixedAt = null)
    {
        var file = vm.GuestMemfd ?? vm.File ?? throw new InvalidOperationException("anonymous memory has no backing file");
        // kvm_gmem_mmap: no ->mmap before 6.18; from 6.18 only for a guest_memfd created with GUEST_MEMFD_FLAG_MMAP.
        if (file.Kind == BackingKind.GuestMemfd && (!_kernel.Version.AtLeast(6, 18) || (vm.GmemFlags & Scenarios.GuestMemfdFlags.Mmap) == 0))
            return Outcome.Error(Errno.ENODEV);
        if (size == 0 || (offset & (PageGeometry.PageSize - 1)) != 0) return Outcome.Error(Errno.EINVAL);
        // do_mmap: len = PAGE_ALIGN(len), and a length that wraps or leaves TASK_SIZE is -ENOMEM.
        if (size > Process.UserSpaceEnd) return Outcome.Error(Errno.ENOMEM);
        size = (size + PageGeometry.PageSize - 1) & ~(ulong)(PageGeometry.PageSize - 1);
        ulong start;
        if (fixedAt is { } at)
        {
            if ((at & (PageGeometry.PageSize - 1)) != 0) return Outcome.Error(Errno.EINVAL);
            if (at > Process.UserSpaceEnd - size) return Outcome.Error(Errno.ENOMEM);
            Munmap(Vmm, at, size);
            start = at;
        }
        else if (!Vmm.TryReserveRange(size, out start)) return Outcome.Error(Errno.ENOMEM);
        Vmm.AddVma(new Vma
        {
            Start = start,
            End = start + size,
            Kind = file.IsHugetlb ? VmaKind.Hugetlb : file.Kind == BackingKind.File ? VmaKind.File : VmaKind.Shmem,
            File = file,
            PgOff = offset >> PageGeometry.PageShift,
            Shared = true,
        });
        return Outcome.OkCount((long)start);
    }

    /// <summary>mprotect(PROT_GUEST) accepts only a MAP_SHARED shmem mapping (not hugetlbfs, a regular file or a guest_memfd).</summary>
    internal static bool GuestProtectable(Vma vma) => vma.Shared && vma.Kind == VmaKind.Shmem && vma.File is { Kind: BackingKind.Shmem };

    /// <summary>
    /// mprotect(PROT_GUEST) over [va, va+size) (the May 2021 guest-only series): EINVAL unless every VMA in the
    /// range is MAP_SHARED shmem; the range becomes VM_GUEST and is zapped instead of changing protections, so
    /// each page faults again and is mapped PAGE_NONE.
    /// </summary>
    internal Outcome MprotectGuest(Process p, ulong va, ulong size)
    {
        if ((va & (PageGeometry.PageSize - 1)) != 0 || size == 0 || size > Process.UserSpaceEnd || va > Process.UserSpaceEnd - size) return Outcome.Error(Errno.EINVAL);
        var end = va + ((size + PageGeometry.PageSize - 1) & ~(ulong)(PageGeometry.PageSize - 1));
        var covered = p.Vmas.Where(v => v.End > va && v.Start < end).OrderBy(v => v.Start).ToList();
        // mprotect: a hole in the range is ENOMEM.
        var at = va;
        foreach (var vma in covered)
        {
            if (vma.Start > at) return Outcome.Error(Errno.ENOMEM);
            at = vma.End;
        }
        if (at < end) return Outcome.Error(Errno.ENOMEM);
        if (covered.Exists(v => !GuestProtectable(v))) return Outcome.Error(Errno.EINVAL);
        foreach (var vma in covered)
        {
            if (vma.Guest && vma.Start >= va && vma.End <= end) continue;
            p.Vmas.Remove(vma);
            if (vma.Start < va) p.AddVma(vma.CloneRange(vma.Start, va));
            var middle = vma.CloneRange(Math.Max(vma.Start, va), Math.Min(vma.End, end));
            middle.Guest = true;
            p.AddVma(middle);
            if (vma.End > end) p.AddVma(vma.CloneRange(end, vma.End));
        }
        _kernel.Mm.ZapRange(p, new Hva(va), new Hva(end));
        return Outcome.Ok();
    }

    /// <summary>The VMM's fallocate(PUNCH_HOLE | KEEP_SIZE) on one of a VM's files (QEMU's ram_block_discard_range).</summary>
    internal Errno VmPunchHole(Vm vm, VmFile which, ulong gpa, ulong size)
    {
        var file = which == VmFile.GuestMemfd ? vm.GuestMemfd : vm.File;
        if (file is null) return Errno.EINVAL;
        var result = Fallocate(file, gpa, size, punchHole: true, keepSize: true);
        return result.Kind == OutcomeKind.Ok ? 0 : result.Errno ?? Errno.EINVAL;
    }

    /// <summary>The VMM's mmap(MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS) over part of a memslot (the guest-only series' share).</summary>
    internal Errno VmMapAnonymous(Vm vm, ulong gpa, ulong size)
    {
        if (!Vmm.Alive) return Errno.ESRCH;
        var start = vm.Info.HvaBase.Value + gpa;
        if (Munmap(Vmm, start, size).Kind != OutcomeKind.Ok) return Errno.EINVAL;
        Vmm.AddVma(new Vma { Start = start, End = start + size, Kind = VmaKind.Anon, Vm = vm.Info.Id });
        return 0;
    }

    /// <summary>The VMM maps the memslot's backing file again over part of it (MAP_FIXED | MAP_SHARED), with mprotect(PROT_GUEST) when <paramref name="guest"/>.</summary>
    internal Errno VmMapBacking(Vm vm, ulong gpa, ulong size, bool guest)
    {
        if (!Vmm.Alive) return Errno.ESRCH;
        if (vm.File is not { } file) return Errno.EINVAL;
        var start = vm.Info.HvaBase.Value + gpa;
        if (Munmap(Vmm, start, size).Kind != OutcomeKind.Ok) return Errno.EINVAL;
        var vma = new Vma
        {
            Start = start,
            End = start + size,
            Kind = file.IsHugetlb ? VmaKind.Hugetlb : file.Kind == BackingKind.File ? VmaKind.File : VmaKind.Shmem,
            File = file,
            PgOff = gpa >> PageGeometry.PageShift,
            Shared = true,
            Vm = vm.Info.Id,
        };
        if (guest && !GuestProtectable(vma)) return Errno.EINVAL;
        vma.Guest = guest;
        Vmm.AddVma(vma);
        return 0;
    }

    /// <summary>munmap(2): zap the range and cut the VMAs.</summary>
    internal Outcome Munmap(Process p, ulong va, ulong size)
    {
        if ((va & (PageGeometry.PageSize - 1)) != 0 || size == 0) return Outcome.Error(Errno.EINVAL);
        // __do_munmap: a range that is not inside TASK_SIZE is EINVAL.
        if (size > Process.UserSpaceEnd || va > Process.UserSpaceEnd - ((size + PageGeometry.PageSize - 1) & ~(ulong)(PageGeometry.PageSize - 1))) return Outcome.Error(Errno.EINVAL);
        var end = va + ((size + PageGeometry.PageSize - 1) & ~(ulong)(PageGeometry.PageSize - 1));
        _kernel.Mm.ZapRange(p, new Hva(va), new Hva(end));
        foreach (var vma in p.Vmas.ToList())
        {
            if (vma.End <= va || vma.Start >= end) continue;
            p.Vmas.Remove(vma);
            if (vma.Start < va) p.AddVma(vma.CloneRange(vma.Start, va));
            if (vma.End > end) p.AddVma(vma.CloneRange(end, vma.End));
            ReleaseIfUnused(vma.File);
        }
        return Outcome.Ok();
    }

    /// <summary>
    /// fork(2): the child gets copies of every VMA, and of the entries of the VMAs copy_page_range copies (K9):
    /// private ones (with an anon_vma) and hugetlb. Private anon pages become copy-on-write.
    /// </summary>
    internal Process Fork(Process parent)
    {
        var child = _kernel.NewProcess(parent.Name + "-child");
        child.MmapCursor = parent.MmapCursor;
        child.MmapLowCursor = parent.MmapLowCursor;
        foreach (var vma in parent.Vmas) child.AddVma(vma.CloneRange(vma.Start, vma.End));
        var leaves = new List<(ulong Va, PteValue Entry, MappingSize Size)>();
        parent.PageTable.Visit(0, ulong.MaxValue, (va, entry, size) =>
        {
            leaves.Add((va, entry, size));
            return true;
        });
        var wroteProtect = false;
        var cowVmas = new HashSet<Vma>();
        foreach (var (va, entry, size) in leaves)
        {
            var vma = parent.FindVma(va);
            // vma_needs_copy: a MAP_SHARED shmem or file VMA has no anon_vma, so the child refaults it through the page cache.
            if (vma is { Shared: true } && vma.Kind != VmaKind.Hugetlb) continue;
            if (entry.IsSwap)
            {
                child.PageTable.Set(va, entry, size);
                if (entry.IsHwPoison && Frames.HwpEntryRefsOf(entry.SwapPfn) > 0)
                {
                    Frames.HwpEntryRefs(entry.SwapPfn)++;
                    _kernel.Mm.GetPage(entry.SwapPfn);
                }
                continue;
            }
            var cow = vma is { Shared: false } && entry.IsPresent && entry.IsWritable;
            if (cow)
            {
                parent.PageTable.Set(va, entry.WithWritable(false), size);
                wroteProtect = true;
                cowVmas.Add(vma!);
            }
            _kernel.Mm.MapFrame(child, new Hva(va), entry.Pfn, size, writable: entry.IsWritable && !cow, protNone: entry.IsProtNone);
        }
        if (wroteProtect)
        {
            parent.Tlb.FlushAll();
            _kernel.CostLedger.Add(CostKind.TlbShootdown);
            // copy_page_range: the write-protect of COW ranges goes through the mmu notifier, so KVM drops
            // its writable EPT entries and the guest's next write breaks COW in the parent.
            foreach (var vma in cowVmas) _kernel.MmuNotifier.InvalidateRange(parent, new Hva(vma.Start), new Hva(vma.End));
        }
        return child;
    }

    /// <summary>exit(2): every mapping is torn down (K10); nothing is signalled.</summary>
    internal void Exit(Process p)
    {
        if (!p.Alive) return;
        _kernel.Mm.ZapRange(p, new Hva(0), new Hva(ulong.MaxValue));
        var files = p.Vmas.Select(v => v.File).Distinct().ToList();
        p.Vmas.Clear();
        p.Alive = false;
        foreach (var file in files) ReleaseIfUnused(file);
    }

    /// <summary>The VMM closed its descriptor: the file lives on while some mapping still uses it.</summary>
    internal void CloseFile(BackingFile? file)
    {
        if (file is null) return;
        file.Closed = true;
        ReleaseIfUnused(file);
    }

    /// <summary>The last reference (descriptor or mapping) went away: truncate the page cache.</summary>
    internal void ReleaseIfUnused(BackingFile? file)
    {
        if (file is null || !file.Closed) return;
        foreach (var p in _kernel.Processes)
        {
            if (!p.Alive) continue;
            foreach (var vma in p.Vmas)
                if (vma.File == file) return;
        }
        foreach (var index in file.CachedIndexes(0, file.Pages)) _kernel.PageCache.Remove(file, index);
    }
}

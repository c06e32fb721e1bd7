using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Core.Machine;

/// <summary>The page cache of the VMs' backing files (mm/filemap.c, mm/shmem.c, fs/hugetlbfs).</summary>
internal sealed class PageCache(MemoryManager mm, CostLedger ledger)
{
    private FrameTable Frames => mm.Frames;

    /// <summary>find_get_page / shmem_getpage: the page-cache frame for an index, created zeroed on demand.</summary>
    internal Pfn GetPage(BackingFile file, ulong index, bool create)
    {
        if (file.IsHugetlb)
        {
            var head = GetHugetlbPage(file, index & ~(ulong)(PageGeometry.PagesPerHuge - 1), create);
            return head.IsValid ? head.Add((long)(index & (PageGeometry.PagesPerHuge - 1))) : head;
        }
        var pfn = file.Lookup(index);
        if (pfn.IsValid || !create || index >= file.Pages) return pfn;
        pfn = mm.AllocateFrame();
        if (!pfn.IsValid) return pfn;
        Frames.SetFlags(pfn, FrameFlags.PageCache | (file.Kind == BackingKind.File ? FrameFlags.None : FrameFlags.SwapBacked));
        Frames.SetFile(pfn, file.Id, index);
        Frames.SetRefCount(pfn, 1); // the page cache's reference
        file.Insert(index, pfn);
        return pfn;
    }

    /// <summary>hugetlbfs: the 2 MiB page at an aligned index, allocated from the huge pool on demand.</summary>
    internal Pfn GetHugetlbPage(BackingFile file, ulong alignedIndex, bool create = true)
    {
        if (alignedIndex >= file.Pages) return Pfn.Invalid;
        var head = file.Lookup(alignedIndex);
        if (head.IsValid || !create) return head;
        head = mm.Allocator.AllocateHuge();
        if (!head.IsValid) return head;
        ledger.Add(CostKind.FrameAlloc);
        for (var i = 0; i < PageGeometry.PagesPerHuge; i++) Frames.SetFlags(head.Add(i), FrameFlags.Hugetlb | FrameFlags.PageCache);
        Frames.SetFile(head, file.Id, alignedIndex); // the folio's link: the tails' follow from it
        Frames.SetRefCount(head, 1);
        file.Insert(alignedIndex, head);
        return head;
    }

    /// <summary>delete_from_page_cache: drops a page (truncate, hole punch, memory_failure on ≤5.15 shmem).</summary>
    internal void Remove(BackingFile file, ulong index)
    {
        var pfn = file.Lookup(index);
        if (!pfn.IsValid) return;
        file.Remove(index);
        var count = file.IsHugetlb ? PageGeometry.PagesPerHuge : 1;
        for (var i = 0; i < count; i++)
        {
            Frames.SetFile(pfn.Add(i), 0, 0);
            Frames.ClearFlags(pfn.Add(i), FrameFlags.PageCache);
        }
        mm.PutPage(pfn);
        // K27: a frame whose every remaining reference is a hwpoison entry's stays allocated and poisoned.
        var held = Frames.HwpEntryRefsOf(pfn);
        if (held > 0 && Frames.RefCountOf(pfn) == held) ledger.Add(CostKind.FrameKeptByHwpEntry);
    }
}

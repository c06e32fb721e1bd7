using Vmm.Abstractions;

namespace Vmm.Core.Machine;

internal sealed partial class HostKernel
{
    /// <summary>
    /// __get_user_pages: takes a reference on each page (and a pin with FOLL_PIN). Returns the number of
    /// pages taken; when the first page fails, 0 and the errno (vm_fault_to_errno: a hwpoison fault is
    /// EHWPOISON with FOLL_HWPOISON, else EFAULT).
    /// </summary>
    internal int GetUserPages(Process p, ulong start, int pages, GupFlags flags, List<Pfn>? taken, out Errno error)
    {
        CostLedger.Add(CostKind.Gup);
        flags |= GupFlags.Get;
        error = 0;
        var write = (flags & GupFlags.Write) != 0;
        var count = 0;
        for (var i = 0; i < pages; i++)
        {
            var va = (start & ~(ulong)(PageGeometry.PageSize - 1)) + (ulong)i * PageGeometry.PageSize;
            var pfn = FollowPage(p, va, flags, write, out var pageError);
            if (!pfn.IsValid)
            {
                error = pageError;
                break;
            }
            GetPage(pfn);
            if ((flags & GupFlags.Pin) != 0) Frames.PinCount(Head(pfn))++;
            taken?.Add(pfn);
            count++;
        }
        return count;
    }

    /// <summary>follow_page + faultin_page for one page; Pfn.Invalid with the errno when it cannot be had.</summary>
    private Pfn FollowPage(Process p, ulong va, GupFlags flags, bool write, out Errno error)
    {
        error = 0;
        if (p.FindVma(va) is null)
        {
            error = Errno.EFAULT;
            return Pfn.Invalid;
        }
        for (var attempt = 0; attempt < 4; attempt++)
        {
            CostLedger.Add(CostKind.PageWalk);
            var entry = p.PageTable.Lookup(va, out var size);
            // FOLL_KVM (2020) / FOLL_ALLOW_POISONED (2021) share one bit: KVM may follow PROT_NONE guest entries.
            if (entry.IsProtNone && (flags & GupFlags.AllowPoisoned) != 0) return LeafPfn(entry, size, va);
            if (entry.IsPresent && (!write || entry.IsWritable))
            {
                return LeafPfn(entry, size, va);
            }
            // gup_fast gives up on anything not present and falls back to the slow path: same result.
            var fault = HandleMmFault(p, va, write, flags, entry, size, out var allowed);
            switch (fault)
            {
                case VmFault.Ok:
                    continue;
                case VmFault.Allowed:
                    return allowed;
                case VmFault.HwPoison:
                case VmFault.HwPoisonLarge:
                    error = (flags & GupFlags.HwPoison) != 0 ? Errno.EHWPOISON : Errno.EFAULT;
                    return Pfn.Invalid;
                case VmFault.Oom:
                    error = Errno.ENOMEM;
                    return Pfn.Invalid;
                default:
                    error = Errno.EFAULT;
                    return Pfn.Invalid;
            }
        }
        error = Errno.EFAULT;
        return Pfn.Invalid;
    }

    /// <summary>Releases pages taken by GetUserPages without FOLL_PIN.</summary>
    internal void PutPages(List<Pfn> pages)
    {
        foreach (var pfn in pages) PutPage(pfn);
        pages.Clear();
    }
}

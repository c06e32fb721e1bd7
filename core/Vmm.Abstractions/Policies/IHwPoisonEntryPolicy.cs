namespace Vmm.Abstractions;

/// <summary>A host access by <paramref name="Pid"/> at <paramref name="Hva"/> (fault or GUP with <paramref name="Flags"/>) reached a hwpoison entry for <paramref name="Pfn"/>.</summary>
public readonly record struct HwPoisonEntry(int Pid, Hva Hva, Pfn Pfn, GupFlags Flags);

/// <summary>A fault through a none PTE found the poisoned page-cache page <paramref name="Pfn"/>.</summary>
public readonly record struct PoisonedCachePage(Pfn Pfn);

/// <summary>The host fault path on poison: a hwpoison swap entry (do_swap_page, follow_page_pte) or a poisoned page-cache page (__do_fault).</summary>
public interface IHwPoisonEntryPolicy
{
    /// <summary>Kernel default: VM_FAULT_HWPOISON.</summary>
    HwPoisonEntryAction OnHwPoisonEntry(HwPoisonEntry entry) => HwPoisonEntryAction.Poisoned;

    /// <summary>The kernel gives VM_FAULT_HWPOISON (SIGBUS BUS_MCEERR_AR, K23); the RFC's shmem patch fails the lookup with -EIO (BUS_ADRERR).</summary>
    SigBusCode OnPoisonedCachePage(PoisonedCachePage page) => SigBusCode.BUS_MCEERR_AR;
}

using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>A secondary MMU that mirrors a process's mappings (mmu_notifier_ops; KVM's EPT).</summary>
internal interface IMmuNotifierSubscriber
{
    /// <summary>invalidate_range_start: the host mappings of [start, end) changed; drop what was built from them.</summary>
    void InvalidateRange(Hva start, Hva end);
}

/// <summary>
/// mm/mmu_notifier.c: memory management tells the secondary MMUs registered on a process (KVM on the VMM)
/// whenever it zaps, unmaps, migrates, write-protects or collapses that process's mappings, so no subsystem
/// calls KVM itself.
/// </summary>
internal sealed class MmuNotifier
{
    private readonly List<(Process Process, IMmuNotifierSubscriber Subscriber)> _subscriptions = [];

    /// <summary>mmu_notifier_register.</summary>
    public void Register(Process process, IMmuNotifierSubscriber subscriber) => _subscriptions.Add((process, subscriber));

    /// <summary>mmu_notifier_invalidate_range_start over [start, end) of <paramref name="process"/>.</summary>
    public void InvalidateRange(Process process, Hva start, Hva end)
    {
        foreach (var (registered, subscriber) in _subscriptions)
            if (registered == process) subscriber.InvalidateRange(start, end);
    }
}

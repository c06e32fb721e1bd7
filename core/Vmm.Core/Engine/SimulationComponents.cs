using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Machine;

namespace Vmm.Core.Engine;

/// <summary>
/// The components one run uses, resolved by name, plus the bound core options and the run's services the
/// components were built with: kernel services, DRAM contents and cost ledger (fresh ones when none are given:
/// components that need none). The machine binds the services and contents to itself and counts in the ledger.
/// </summary>
public sealed record SimulationComponents(
    IMemoryController Memory,
    IPrivateMemoryPolicy Policy,
    IFaultDelivery Faults,
    IPageTableFactory PageTables,
    IHugePageStrategy? Thp,
    KernelOptions Kernel,
    CostOptions Costs)
{
    public KernelServices Services { get; init; } = new();
    public PhysicalMemory Contents { get; init; } = new();
    public CostLedger Ledger { get; init; } = new(Costs);
    /// <summary>The bound "kvm" options (defaults when none are given).</summary>
    public KvmOptions Kvm { get; init; } = new();
}

using Vmm.Abstractions;
using Vmm.Core.Costs;

namespace Vmm.Core.Engine;

/// <summary>
/// The components one run uses, resolved by name, plus the bound core options and the kernel services the
/// components were built with (a fresh set when none is given: components that need none).
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
}

using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.HwPoison;
using Vmm.Plugins.Thp.LazySplit;
using Vmm.Plugins.Thp.NoThp;
using Vmm.Plugins.Thp.PmdPoison;
using Vmm.Plugins.Thp.Split;

namespace Vmm.Plugins.Thp.Tests.Infrastructure;

/// <summary>A <see cref="TestMachine"/> with one protected `thp: true` anon VM under hwpoison-v2 and a strategy chosen by name.</summary>
internal static class ThpMachine
{
    public const string Td = "td1";
    public const ulong Page = PageGeometry.PageSize;
    public const ulong Huge = PageGeometry.HugeSize;

    public static readonly string[] Strategies = ["split", "no-thp", "pmd-poison", "lazy-split"];

    public static TheoryData<string> AllStrategies => [.. Strategies];

    public static IHugePageStrategy Strategy(string name, KernelServices k) => name switch
    {
        "split" => new SplitStrategy(k, k),
        "no-thp" => new NoThpStrategy(k, k),
        "pmd-poison" => new PmdPoisonStrategy(k, k, k),
        "lazy-split" => new LazySplitStrategy(k, k, k, k, k),
        _ => throw new ArgumentException($"no strategy '{name}'", nameof(name)),
    };

    public static TestMachine Create(string strategy, ulong memory = 8 * TestMachine.MiB, KernelVersion? kernel = null) => TestMachine.Create(new MachineSetup
    {
        Vms = [TestMachine.Vm(Td, memory, BackingKind.Anon, isProtected: true, thp: true)],
        PolicyFor = k => new HwPoisonV2Policy(new HwPoisonOptions(), new HwPoisonServices(k, k, k, k, k, k)),
        ThpFor = k => Strategy(strategy, k),
        Kernel = kernel ?? KernelVersion.Default,
    });

    public static Outcome Convert(this TestMachine m, ulong gpa, ulong size, bool toPrivate) => m.Run("guest.convert", Td, gpa, size: size, to: toPrivate ? "private" : "shared");

    public static Outcome GuestWritePrivate(this TestMachine m, ulong gpa, byte value = 0x5e) => m.GuestWrite(gpa, TestMachine.Bytes(value, 2), Td);

    public static long Gauge(this TestMachine m, string name) => m.Ledger.Snapshot().TryGetValue(name, out var value) ? value : -1;
}

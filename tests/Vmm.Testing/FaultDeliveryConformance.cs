using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Hosting;

namespace Vmm.Testing;

/// <summary>
/// Properties every <see cref="IFaultDelivery"/> keeps (docs/conformance.md): it is total over the kernel's events
/// (an outcome for each, never an exception), deterministic (the same event gives the same outcome, from the same
/// or a fresh instance), only a host panic or a platform shutdown ends the machine, and the engine asks it once per event.
/// </summary>
public abstract class FaultDeliveryConformance : ComponentConformance, IDisposable
{
    private readonly List<IServiceScope> _runs = [];

    public sealed override ComponentKind Kind => ComponentKind.Faults;

    /// <summary>A fresh instance, in a run scope of its own, as each run gets one.</summary>
    protected IFaultDelivery NewDelivery()
    {
        var run = ConformanceHost.CreateRunScope(Host);
        _runs.Add(run);
        return ConformanceHost.Create<IFaultDelivery>(run, ComponentName);
    }

    /// <summary>Events of every kind, in every signal context, with and without a VM, for the VMM and for another process.</summary>
    public static IEnumerable<KernelEvent> Events()
    {
        foreach (var kind in Enum.GetValues<KernelEventKind>())
            foreach (var context in Enum.GetValues<SignalContext>())
                foreach (var vm in new[] { VmId.None, new VmId(0) })
                    foreach (var pid in new[] { 1, 2 })
                    {
                        var events = new List<KernelEvent>();
                        if (kind == KernelEventKind.SigBus)
                        {
                            foreach (var code in Enum.GetValues<SigBusCode>())
                                events.Add(new KernelEvent(kind, pid, code, new Hva(0x7f00_0000_1000UL), code == SigBusCode.SI_KERNEL ? 0 : PageGeometry.PageShift, context, vm, "conformance"));
                        }
                        else
                        {
                            events.Add(new KernelEvent(kind, pid, default, new Hva(0x7f00_0000_2000UL), 0, context, vm, $"conformance {kind}"));
                        }
                        foreach (var e in events)
                        {
                            yield return e;
                            // A failed guest fault also carries what KVM_EXIT_MEMORY_FAULT reports.
                            foreach (var guest in GuestFaults)
                                yield return e with { Guest = guest };
                        }
                    }
    }

    private static readonly GuestMemoryFault[] GuestFaults =
    [
        new(new Gpa(0x1000), PageGeometry.PageSize, Private: true, HardwareError: false),
        new(new Gpa(0x200000), PageGeometry.HugeSize, Private: false, HardwareError: true),
    ];

    public static TheoryData<KernelEventKind> Kinds()
    {
        var data = new TheoryData<KernelEventKind>();
        foreach (var kind in Enum.GetValues<KernelEventKind>()) data.Add(kind);
        return data;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryEventKind_GetsAnOutcome_WithoutAnException(KernelEventKind kind)
    {
        var delivery = NewDelivery();
        foreach (var e in Events().Where(e => e.Kind == kind))
        {
            var outcome = delivery.Deliver(e);
            Assert.NotNull(outcome);
            Assert.False(outcome.Kind is OutcomeKind.NotRun or OutcomeKind.State, $"{e} was delivered as {outcome}: an outcome of the engine's, not of a fault");
        }
    }

    [Fact]
    public void SameEvent_GivesTheSameOutcome_FromTheSameAndFromAFreshInstance()
    {
        var first = NewDelivery();
        var events = Events().ToList();
        var once = events.Select(e => Describe(first.Deliver(e))).ToList();
        var again = events.Select(e => Describe(first.Deliver(e))).ToList();
        var fresh = NewDelivery();
        var elsewhere = events.Select(e => Describe(fresh.Deliver(e))).ToList();
        for (var i = 0; i < events.Count; i++)
        {
            Assert.True(once[i] == again[i], $"{events[i]}: {once[i]}, then {again[i]}");
            Assert.True(once[i] == elsewhere[i], $"{events[i]}: {once[i]}, from a fresh instance {elsewhere[i]}");
        }
    }

    [Theory]
    [InlineData(KernelEventKind.HostPanic)]
    [InlineData(KernelEventKind.Shutdown)]
    public void MachineEndingEvents_GiveMachineEndingOutcomes(KernelEventKind kind)
    {
        var delivery = NewDelivery();
        foreach (var e in Events().Where(e => e.Kind == kind))
            Assert.True(delivery.Deliver(e).EndsMachine, $"{e} must end the machine, got {delivery.Deliver(e)}");
    }

    [Theory]
    [InlineData(KernelEventKind.SigBus)]
    [InlineData(KernelEventKind.SigKill)]
    [InlineData(KernelEventKind.SigSegv)]
    [InlineData(KernelEventKind.TdFatal)]
    [InlineData(KernelEventKind.GuestFaultFailed)]
    [InlineData(KernelEventKind.GuestVc)]
    public void EventsThatSpareTheHost_NeverEndTheMachine(KernelEventKind kind)
    {
        var delivery = NewDelivery();
        foreach (var e in Events().Where(e => e.Kind == kind))
            Assert.False(delivery.Deliver(e).EndsMachine, $"{e} concerns one process or one guest, yet {delivery.Deliver(e)} ends the machine");
    }

    /// <summary>Scenarios whose every step raises a known number of kernel events (0 or 1).</summary>
    public static TheoryData<string> EventCases => new() { "hwpoison-entry", "kernel-consumes-poison", "early-kill", "guest-consumes-poison" };

    /// <summary>Through the engine: the delivery is asked once per kernel event a step raises, and never for a step that raises none.</summary>
    [Theory]
    [MemberData(nameof(EventCases))]
    public void Engine_AsksTheDelivery_OncePerKernelEvent(string @case)
    {
        var calls = new List<int>();
        var step = 0;
        using var host = VmmHost.Load(Host.PluginsFiles, services => services.AddVmmComponent<IFaultDelivery, CountingDelivery>(ComponentKind.Faults, CountingName,
            "conformance: counts the calls to the delivery under test",
            run => new CountingDelivery(run.GetRequiredKeyedService<IFaultDelivery>(ComponentName), () => calls.Add(step))));
        var scenario = new ConformanceScenario($"conformance: faults {ComponentName}: one call per event ({@case})")
            .Component("faults", CountingName)
            .Vm("vm1", "8M");
        var expected = new List<int>();
        void Add(object s, int events)
        {
            scenario.Step(s);
            expected.Add(events);
        }
        Add(new { op = "host.write", vm = "vm1", gpa = "0x1000", data = "0x1122" }, 0);
        Add(new { op = "host.read", vm = "vm1", gpa = "0x1000", len = 2 }, 0);
        switch (@case)
        {
            case "hwpoison-entry":
                Add(new { op = "host.madvise", vm = "vm1", gpa = "0x1000", size = "4K", advice = "HWPOISON" }, 0);
                Add(new { op = "host.read", vm = "vm1", gpa = "0x1000", len = 2 }, 1);
                Add(new { op = "host.read", vm = "vm1", gpa = "0x1000", len = 2 }, 1);
                break;
            case "kernel-consumes-poison":
                Add(new { op = "hw.memory-error", vm = "vm1", gpa = "0x1000" }, 0);
                Add(new { op = "kernel.read", vm = "vm1", gpa = "0x1000", len = 2 }, 1);
                break;
            case "early-kill":
                scenario.Option("linux.earlyKill", JsonValue.Create(true));
                Add(new { op = "hw.memory-error", vm = "vm1", gpa = "0x1000" }, 1);
                break;
            default:
                Add(new { op = "guest.read", vm = "vm1", gpa = "0x1000", len = 2 }, 0);
                Add(new { op = "hw.memory-error", vm = "vm1", gpa = "0x1000" }, 0);
                Add(new { op = "guest.read", vm = "vm1", gpa = "0x1000", len = 2 }, 1);
                break;
        }
        var run = scenario.Run(host, s => step = s.Index + 1);

        for (var i = 0; i < expected.Count; i++)
        {
            var asked = calls.Count(c => c == i);
            Assert.True(asked == expected[i], $"{run[i]} asked the delivery {asked} times for {expected[i]} kernel events\n{run.ScenarioText}");
        }
    }

    private const string CountingName = "conformance-counting";

    /// <summary>The delivery under test, counting its calls.</summary>
    private sealed class CountingDelivery(IFaultDelivery inner, Action called) : IFaultDelivery
    {
        public Outcome Deliver(in KernelEvent kernelEvent)
        {
            called();
            return inner.Deliver(kernelEvent);
        }
    }

    public void Dispose()
    {
        foreach (var run in _runs) run.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Every observable field of an outcome (records compare arrays by reference).</summary>
    private static string Describe(Outcome o)
        => $"{o.Kind}|{o.SigBusCode}|{o.Lsb}|{o.Address}|{o.Errno}|{o.Signal}|{o.Reason}|{o.ExitReason}|{string.Join(',', o.ExitFlags)}|{o.ExitGpa}|{o.ExitSize}|{o.Count}|{(o.Data is null ? "" : Convert.ToHexString(o.Data))}";
}

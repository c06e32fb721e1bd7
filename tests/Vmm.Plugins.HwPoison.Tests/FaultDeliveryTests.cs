using Moq;
using Vmm.Abstractions;
using Vmm.Core.Scenarios;
using Vmm.Plugins.HwPoison.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>
/// What a real simulation under hwpoison-v2 hands to <see cref="IFaultDelivery"/>: exactly one event per
/// observable fault, none for the accesses that succeed (a strict mock throws on any unexpected call).
/// </summary>
public class FaultDeliveryTests
{
    private const ulong Gpa = 0x3000;

    private static (PolicyMachine M, StrictFaults Faults) Create(MemoryKind memory, params VmSpec[] vms)
    {
        var faults = new StrictFaults();
        var m = PolicyMachine.Create(vms, memory, PolicyMachine.V2(), faults.Mock.Object);
        return (m, faults);
    }

    [Theory]
    [InlineData(MemoryKind.TdxCi, BackingKind.Shmem)]
    [InlineData(MemoryKind.TdxCi, BackingKind.Anon)]
    [InlineData(MemoryKind.Plain, BackingKind.Shmem)]
    [InlineData(MemoryKind.Plain, BackingKind.Anon)]
    public void HostRead_OfPrivatePage_DeliversExactlyOneSigbusMceerrArLsb12AtTheFaultingHva(MemoryKind memory, BackingKind backing)
    {
        var (m, faults) = Create(memory, PolicyMachine.Vm("td1", backing: backing));
        Expect.Ok(m.GuestWrite("td1", Gpa, [0x5e, 0xc2, 0xe7, 0x5e, 0xc2, 0xe7]));
        var marker = Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(1), 12);
        faults.Allow(marker);

        var outcome = m.HostRead("td1", Gpa + 0x20, 4);

        Assert.Same(marker, outcome);
        var e = faults.VerifyDeliveredOnce();
        Assert.Equal(KernelEventKind.SigBus, e.Kind);
        Assert.Equal(SigBusCode.BUS_MCEERR_AR, e.Code);
        Assert.Equal(12, e.Lsb);
        Assert.Equal(SignalContext.VmmAccess, e.Context);
        Assert.Equal(m.Kernel.VmmPid, e.Pid);
        Assert.Equal(new Hva(m.HvaOf("td1", Gpa + 0x20)), e.Address);
    }

    [Theory]
    [InlineData(MemoryKind.TdxCi)]
    [InlineData(MemoryKind.Plain)]
    public void GuestFault_RefusedForOwnerConflict_DeliversExactlyOneSigbusMceerrArToTheVcpuThreadAtThePageAlignedHva(MemoryKind memory)
    {
        var (m, faults) = Create(memory, PolicyMachine.Vm("td1", 8 * PolicyMachine.MiB), PolicyMachine.Vm("td2", 8 * PolicyMachine.MiB));
        var td2Base = m.VmNamed("td2").Info.HvaBase.Value;
        Assert.Equal((long)td2Base, m.MmapBacking("td1", 0, 8 * PolicyMachine.MiB, td2Base).Count); // MAP_FIXED over td2's memslot
        Expect.Ok(m.HostRead("td2", Gpa, 2)); // td2's slot now maps td1's shmem page
        Expect.Ok(m.GuestWrite("td1", Gpa, [0x5e, 0xc2, 0xe7])); // td1 owns and poisons it
        Assert.Equal(m.FrameOf("td1", Gpa), m.FrameOf("td2", Gpa));
        var marker = Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(2), 12);
        faults.Allow(marker);

        var outcome = m.GuestRead("td2", Gpa + 0x18, 4);

        Assert.Same(marker, outcome);
        var e = faults.VerifyDeliveredOnce();
        Assert.Equal(KernelEventKind.SigBus, e.Kind);
        Assert.Equal(SigBusCode.BUS_MCEERR_AR, e.Code);
        Assert.Equal(12, e.Lsb);
        Assert.Equal(SignalContext.VcpuThread, e.Context);
        Assert.Equal(m.Kernel.VmmPid, e.Pid);
        Assert.Equal(m.VmNamed("td2").Info.Id, e.Vm);
        Assert.Equal(new Hva(m.HvaOf("td2", Gpa)), e.Address);
    }

    [Theory]
    [InlineData(MemoryKind.TdxCi)]
    [InlineData(MemoryKind.Plain)]
    public void ShareThenHostTouch_RebuildsThePteAndDeliversNothing(MemoryKind memory)
    {
        var (m, faults) = Create(memory, PolicyMachine.Vm("td1"));
        Expect.Ok(m.GuestWrite("td1", Gpa, [1, 2, 3]));

        Expect.Ok(m.Convert("td1", Gpa, PolicyMachine.Page, toPrivate: false));
        Expect.Ok(m.HostWrite("td1", Gpa, [9, 9]));
        Assert.Equal([9, 9], Expect.Data(m.GuestRead("td1", Gpa, 2, shared: true)));

        faults.Mock.VerifyNoOtherCalls();
        Assert.True(m.VmmPte("td1", Gpa).IsPresent);
    }
}

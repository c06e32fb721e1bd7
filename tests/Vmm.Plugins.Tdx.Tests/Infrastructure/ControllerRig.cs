using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.Integrity;
using Vmm.Plugins.Tdx.Li;
using Vmm.Plugins.Tdx.Mktme;

namespace Vmm.Plugins.Tdx.Tests.Infrastructure;

/// <summary>
/// One controller built on a <see cref="ControllerHost"/>, with the KeyID of VM 0 (a TD under tdx-*,
/// an MKTME VM under mktme) and short-hands for the accesses the rows of table H talk about.
/// </summary>
internal sealed class ControllerRig
{
    /// <summary>Controller names: "mktme", "tdx-li", "tdx-ci" (AES MAC), "tdx-ci-sha3".</summary>
    public static ControllerRig Create(string name, bool partialWriteErratum = false, bool contentsFree = false)
    {
        var host = new ControllerHost(contentsFree: contentsFree);
        IntegrityMemoryController controller = name switch
        {
            "mktme" => new MktmeMemoryController(new MktmeOptions(), host.Physical, host.CostLedger),
            "tdx-li" => new TdxLiMemoryController(new TdxOptions { PartialWriteErratum = partialWriteErratum }, host.Physical, host.CostLedger),
            "tdx-ci" => new TdxCiMemoryController(new TdxOptions { PartialWriteErratum = partialWriteErratum }, host.Physical, host.CostLedger),
            "tdx-ci-sha3" => new TdxCiMemoryController(new TdxOptions { Mac = "sha3", PartialWriteErratum = partialWriteErratum }, host.Physical, host.CostLedger),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown controller"),
        };
        return new ControllerRig(host, controller);
    }

    private ControllerRig(ControllerHost host, IntegrityMemoryController controller)
    {
        Host = host;
        Controller = controller;
        VmKey = controller.AssignPrivateKey(new VmId(0));
    }

    public ControllerHost Host { get; }
    public IntegrityMemoryController Controller { get; }
    /// <summary>The KeyID of VM 0.</summary>
    public KeyId VmKey { get; }

    /// <summary>TDH.MEM.PAGE.AUG + ACCEPT as KVM does it: the frame is re-initialised for the VM's KeyID.</summary>
    public Pfn AcceptPage(ulong pfn)
    {
        var frame = new Pfn(pfn);
        Controller.Reinitialize(frame, VmKey);
        return frame;
    }

    public MemResult VmWrite(Pfn pfn, int offset, ReadOnlySpan<byte> data) => Controller.Write(new LineAccess(pfn, offset, VmKey, Requester.Guest), data);

    public MemResult VmRead(Pfn pfn, int offset, Span<byte> destination) => Controller.Read(new LineAccess(pfn, offset, VmKey, Requester.Guest), destination);

    public MemResult HostWrite(Pfn pfn, int offset, ReadOnlySpan<byte> data, Requester requester = Requester.HostUser, AccessFlags flags = AccessFlags.None)
        => Controller.Write(new LineAccess(pfn, offset, KeyId.Shared, requester, flags), data);

    public MemResult HostRead(Pfn pfn, int offset, Span<byte> destination, Requester requester = Requester.HostUser)
        => Controller.Read(new LineAccess(pfn, offset, KeyId.Shared, requester), destination);

    /// <summary>What DRAM holds, bypassing the controller.</summary>
    public byte[] Stored(Pfn pfn, int offset, int length)
    {
        var frame = Host.Physical.Peek(pfn);
        return frame.IsEmpty ? new byte[length] : frame.Slice(offset, length).ToArray();
    }

    /// <summary>64 bytes that differ per seed and contain no zero byte.</summary>
    public static byte[] Line(int seed)
    {
        var line = new byte[PageGeometry.LineSize];
        for (var i = 0; i < line.Length; i++) line[i] = (byte)(1 + (seed * 37 + i * 11) % 255);
        return line;
    }
}

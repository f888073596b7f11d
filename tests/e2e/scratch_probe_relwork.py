from urllib.parse import urlsplit
from tests.support.api import open_file, lock
from wopiproxy.control.v1 import file_service_pb2 as file_pb, file_service_pb2_grpc as file_grpc

def vers(api, t, fid):
    return [(v.version, v.size, v.reason, v.sha256[:8]) for v in api.call(file_grpc.FileServiceStub(api.channel).ListFileVersions, file_pb.ListFileVersionsRequest(tenant_id=t, file_id=fid)).versions]

def test_probe(api, tenant, http):
    fs = file_grpc.FileServiceStub(api.channel)
    f = open_file(api, *tenant, "source.docx")
    target = open_file(api, *tenant, "known.docx", b"old target")
    print("target file row", api.call(fs.GetFile, file_pb.GetFileRequest(tenant_id=f.tenant_id, file_id=target.file_id)))
    r = http.post(f.url(), content=b"new target", headers={"X-WOPI-Override":"PUT_RELATIVE","X-WOPI-RelativeTarget":"known.docx","X-WOPI-OverwriteRelativeTarget":"true"})
    print(r.status_code, r.json())
    v = vers(api, f.tenant_id, target.file_id); print("known", v)
    api.call(fs.RestoreFileVersion, file_pb.RestoreFileVersionRequest(tenant_id=f.tenant_id, file_id=target.file_id, version=v[0][0]))
    print("after restore", http.get(target.url("/contents")).content, vers(api, f.tenant_id, target.file_id))
    # unknown target
    (tenant[1] / "unknown.docx").write_bytes(b"unknown old")
    r = http.post(f.url(), content=b"new2", headers={"X-WOPI-Override":"PUT_RELATIVE","X-WOPI-RelativeTarget":"unknown.docx","X-WOPI-OverwriteRelativeTarget":"true"})
    print(r.status_code, r.json())
    fid = urlsplit(r.json()["Url"]).path.rsplit("/",1)[-1]
    print("unknown", vers(api, f.tenant_id, fid))
    import subprocess; print(subprocess.run(["find", str(tenant[1]), "-type", "f"], capture_output=True, text=True).stdout)
    # deleted file GetFile
    d = open_file(api, *tenant, "del.docx", b"x")
    http.post(d.url(), headers={"X-WOPI-Override":"DELETE"})
    print("deleted GetFile", api.call(fs.GetFile, file_pb.GetFileRequest(tenant_id=f.tenant_id, file_id=d.file_id)))
    d2 = open_file(api, *tenant, "del.docx", b"y")
    print("same path after delete new id?", d2.file_id != d.file_id)
    # CheckFileInfo SHA256 before any save
    print("sha before save", http.get(open_file(api, *tenant, "fresh.docx", b"abc").url()).json().get("SHA256"))
